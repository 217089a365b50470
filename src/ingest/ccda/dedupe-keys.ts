import { createHash } from 'node:crypto';
import type { CcdaId } from '@medplum/ccda';
import type { Identifier } from '@medplum/fhirtypes';
import { readableIdentifierToken } from '../../fhir/search-token.ts';
import { attr, systemFor } from './cda-values.ts';

/** RFC 3986 system for identifiers that are themselves URIs (an OID or UUID root without extension). */
export const URI_SYSTEM = 'urn:ietf:rfc:3986';
/** System for identifiers Katahdin derives from content when an entry has no usable id. */
export const HASH_SYSTEM = 'urn:katahdin:ccda:entry-hash';

const OID = /^[0-2](\.(0|[1-9]\d*))+$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * CDA II → FHIR Identifier: root+extension → `urn:oid:<root>` | extension (well-known roots
 * such as SSN and NPI use their FHIR system); root only → `urn:ietf:rfc:3986` | `urn:oid:<root>`
 * or `urn:uuid:<root>`. Roots that are neither OID nor UUID give undefined (not a stable key).
 */
export function identifierFromCdaId(id: CcdaId): Identifier | undefined {
  const root = attr(id, 'root');
  const extension = attr(id, 'extension');
  if (!root) return undefined;
  if (extension) {
    if (OID.test(root)) return { system: systemFor(root) ?? `urn:oid:${root}`, value: extension };
    if (UUID.test(root)) return { system: `urn:uuid:${root.toLowerCase()}`, value: extension };
    return undefined;
  }
  if (OID.test(root)) return { system: URI_SYSTEM, value: `urn:oid:${root}` };
  if (UUID.test(root)) return { system: URI_SYSTEM, value: `urn:uuid:${root.toLowerCase()}` };
  return undefined;
}

export function sha256Hex(...parts: (string | undefined)[]): string {
  return createHash('sha256').update(parts.map((p) => p ?? '').join('\u001f')).digest('hex');
}

/** Stable identifier from content (resource type, code, date, source) for entries without an id. */
export function hashIdentifier(...parts: (string | undefined)[]): Identifier {
  return { system: HASH_SYSTEM, value: sha256Hex(...parts).slice(0, 32) };
}

/** Deterministic RFC 4122-shaped (version 5 style) UUID from a seed, for bundle fullUrls. */
export function uuidFromSeed(seed: string): string {
  const h = sha256Hex('katahdin-ccda', seed);
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** `identifier=<system>|<value>` for conditional create/update, `urn:oid:` left readable. */
export function identifierQuery(identifier: Identifier): string {
  return `identifier=${readableIdentifierToken(identifier)}`;
}

export function sameIdentifier(a: Identifier, b: Identifier): boolean {
  return a.system === b.system && a.value === b.value;
}
