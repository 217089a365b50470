import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { arr, attr, textOf } from './cda-values.ts';
import { ccdaError, type CcdaError } from './errors.ts';

export const CDA_NAMESPACE = 'urn:hl7-org:v3';
export const US_REALM_HEADER = '2.16.840.1.113883.10.20.22.1.1';
const CDA_TYPE_ID = '2.16.840.1.113883.1.3';
const FRAGMENT_ROOTS = new Set(['section', 'component', 'entry', 'recordTarget', 'structuredBody', 'observation', 'act', 'organizer', 'substanceAdministration', 'encounter', 'procedure', 'wrap']);
/** C-CDA document-level templates: each one requires the US Realm Header, so it implies it. */
const DOCUMENT_TEMPLATES = new Set(['2', '3', '4', '5', '6', '7', '8', '9', '10', '13', '14', '15'].map((n) => `2.16.840.1.113883.10.20.22.1.${n}`));
const VERSIONS: Record<string, CcdaVersion> = { '2015-08-01': 'R2.1', '2014-06-09': 'R2.0' };

export type CcdaVersion = 'R1.1' | 'R2.0' | 'R2.1';

export type ValidationResult =
  | { ok: true; xml: string; version: CcdaVersion; warnings: string[] }
  | { ok: false; error: CcdaError };

type Node = Record<string, unknown>;

/** Decode bytes (UTF-8, or UTF-16 with a BOM) and drop a leading byte-order mark. */
export function decodeXml(input: string | Uint8Array): string {
  let text: string;
  if (typeof input === 'string') text = input;
  else if (input[0] === 0xff && input[1] === 0xfe) text = Buffer.from(input).toString('utf16le');
  else if (input[0] === 0xfe && input[1] === 0xff) text = Buffer.from(input).swap16().toString('utf16le');
  else text = Buffer.from(input).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Checks that the input is a well-formed CDA ClinicalDocument with the US Realm header (or a
 * C-CDA document template, which requires it) and
 * an identifiable patient. Never throws; the error message never quotes document content.
 */
export function validateCcda(input: string | Uint8Array): ValidationResult {
  try {
    return validateText(decodeXml(input));
  } catch {
    return { ok: false, error: ccdaError(400, 'malformed-xml', 'The document could not be read as XML.') };
  }
}

function validateText(xml: string): ValidationResult {
  if (!xml.trim()) return fail(400, 'empty-document', 'The request body is empty.');
  const wellFormed = XMLValidator.validate(xml, { allowBooleanAttributes: false });
  if (wellFormed !== true) {
    const { code, line, col } = wellFormed.err;
    return fail(400, 'malformed-xml', `The document is not well-formed XML (${code}).`, `${line}:${col}`);
  }
  // The body is left unparsed here (stop node): only the header decides acceptance.
  const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, stopNodes: ['ClinicalDocument.component'] }).parse(xml) as Node;
  const rootName = Object.keys(parsed).find((k) => !k.startsWith('?') && !k.startsWith('#'));
  if (!rootName) return fail(400, 'malformed-xml', 'The document has no root element.');
  const root = parsed[rootName] as Node;
  const rootError = checkRoot(rootName, root);
  if (rootError) return { ok: false, error: rootError };
  return checkHeader(xml, root);
}

function checkRoot(rootName: string, root: Node): CcdaError | undefined {
  const [prefix, local] = rootName.includes(':') ? rootName.split(':', 2) : [undefined, rootName];
  if (local !== 'ClinicalDocument') {
    if (FRAGMENT_ROOTS.has(local)) {
      return ccdaError(422, 'section-fragment', `The root element is <${local}>: a C-CDA fragment, not a complete ClinicalDocument.`, '/');
    }
    return ccdaError(422, 'not-ccda', `The root element is <${local}>, not a CDA ClinicalDocument.`, '/');
  }
  const ns = attr(root, prefix ? `xmlns:${prefix}` : 'xmlns');
  if (ns !== CDA_NAMESPACE) {
    return ccdaError(422, 'wrong-namespace', `ClinicalDocument is not in the ${CDA_NAMESPACE} namespace.`, '/ClinicalDocument');
  }
  if (prefix) {
    return ccdaError(422, 'wrong-namespace', 'A namespace-prefixed ClinicalDocument root is not supported; use the default namespace.', '/ClinicalDocument');
  }
  return undefined;
}

function checkHeader(xml: string, root: Node): ValidationResult {
  const typeId = root.typeId;
  if (attr(typeId, 'root') !== CDA_TYPE_ID || attr(typeId, 'extension') !== 'POCD_HD000040') {
    return fail(422, 'bad-type-id', 'ClinicalDocument/typeId must be 2.16.840.1.113883.1.3 / POCD_HD000040 (CDA R2).', '/ClinicalDocument/typeId');
  }
  const templates = arr(root.templateId as Node | Node[]);
  const realm = templates.filter((t) => attr(t, 'root') === US_REALM_HEADER);
  const header = realm.length ? realm : templates.filter((t) => DOCUMENT_TEMPLATES.has(attr(t, 'root') ?? ''));
  if (header.length === 0) {
    return fail(422, 'missing-header', `The US Realm Header templateId (${US_REALM_HEADER}) is missing.`, '/ClinicalDocument/templateId');
  }
  const patientRole = (arr(root.recordTarget as Node | Node[])[0] as Node | undefined)?.patientRole as Node | undefined;
  const patient = patientRole?.patient as Node | undefined;
  if (!patientRole || !patient) {
    return fail(422, 'missing-patient', 'recordTarget/patientRole/patient is missing.', '/ClinicalDocument/recordTarget');
  }
  if (!arr(patient.name as Node | Node[]).some(hasNamePart)) {
    return fail(422, 'missing-patient-name', 'The patient has no name.', '/ClinicalDocument/recordTarget/patientRole/patient/name');
  }
  const extensions = header.map((t) => attr(t, 'extension')).filter((e): e is string => !!e);
  const version = extensions.map((e) => VERSIONS[e]).find(Boolean) ?? 'R1.1';
  const warnings = headerWarnings(patient);
  if (!realm.length) warnings.push('us-realm-header-implied-by-document-template');
  return { ok: true, xml, version, warnings };
}

function hasNamePart(name: unknown): boolean {
  if (typeof name === 'string') return !!name.trim();
  const n = name as Node;
  return [...arr(n?.given), ...arr(n?.family)].some((p) => !!textOf(p)) || !!textOf(n);
}

function headerWarnings(patient: Node): string[] {
  const gender = patient.administrativeGenderCode;
  const code = attr(gender, 'code');
  return code && !['M', 'F', 'UN'].includes(code) ? ['invalid-gender-code'] : [];
}

function fail(status: 400 | 422, code: CcdaError['code'], message: string, location?: string): ValidationResult {
  return { ok: false, error: ccdaError(status, code, message, location) };
}
