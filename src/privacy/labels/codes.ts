import { SYSTEMS } from './value-set-types.ts';

/** OIDs and alternative URIs senders use for the same code systems (C-CDA uses OIDs). */
const SYSTEM_ALIASES: Record<string, string> = {
  'urn:oid:2.16.840.1.113883.6.90': SYSTEMS.icd10cm,
  '2.16.840.1.113883.6.90': SYSTEMS.icd10cm,
  'http://hl7.org/fhir/sid/icd-10': SYSTEMS.icd10cm,
  'urn:oid:2.16.840.1.113883.6.3': SYSTEMS.icd10cm,
  '2.16.840.1.113883.6.3': SYSTEMS.icd10cm,
  'urn:oid:2.16.840.1.113883.6.96': SYSTEMS.snomed,
  '2.16.840.1.113883.6.96': SYSTEMS.snomed,
  'urn:oid:2.16.840.1.113883.6.1': SYSTEMS.loinc,
  '2.16.840.1.113883.6.1': SYSTEMS.loinc,
  'urn:oid:2.16.840.1.113883.6.88': SYSTEMS.rxnorm,
  '2.16.840.1.113883.6.88': SYSTEMS.rxnorm,
  'http://www.nlm.nih.gov/research/umls/rxnorm/': SYSTEMS.rxnorm,
  'urn:oid:2.16.840.1.113883.6.12': SYSTEMS.cpt,
  '2.16.840.1.113883.6.12': SYSTEMS.cpt,
  'urn:oid:2.16.840.1.113883.6.285': SYSTEMS.hcpcs,
  '2.16.840.1.113883.6.285': SYSTEMS.hcpcs,
  'urn:oid:2.16.840.1.113883.6.14': SYSTEMS.hcpcs,
  'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets': SYSTEMS.hcpcs,
};

export function normalizeSystem(system: string | undefined): string {
  const s = (system ?? '').trim();
  return SYSTEM_ALIASES[s] ?? s;
}

/** ICD-10-CM is written with and without the dot (F32.9 / F329); compare without. */
export function normalizeCode(system: string, code: string): string {
  const c = code.trim();
  return system === SYSTEMS.icd10cm ? c.replace(/\./g, '').toUpperCase() : c;
}

export function codeKey(system: string | undefined, code: string): string {
  const s = normalizeSystem(system);
  return `${s}|${normalizeCode(s, code)}`;
}
