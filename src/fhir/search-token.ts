import type { Identifier } from '@medplum/fhirtypes';

/** FHIR search escaping: `\`, `|`, `,` and `$` inside a value are written with a backslash. */
export const escapeSearchValue = (text: string) => text.replace(/[\\|,$]/g, (c) => `\\${c}`);

/** `system|value` for an Identifier, each half search-escaped then fully URL-encoded (the HL7 v2 mapper's spelling). */
export function encodedIdentifierToken(identifier: Identifier): string {
  const part = (s: string | undefined) => encodeURIComponent(escapeSearchValue(s ?? ''));
  return `${part(identifier.system)}|${part(identifier.value)}`;
}

/**
 * The same token percent-encoding only what would break a query string, so `urn:oid:1.2.3|…` stays readable (the
 * C-CDA mapper's spelling). Both parse to the same search; each mapper keeps its own because its URLs are also
 * compared as strings (conditional references within a bundle, the C-CDA pipeline's keys).
 */
export function readableIdentifierToken(identifier: Identifier): string {
  const part = (s: string | undefined) => escapeSearchValue(s ?? '').replace(/[%&#+?= ]/g, (c) => encodeURIComponent(c));
  return `${part(identifier.system)}|${part(identifier.value)}`;
}
