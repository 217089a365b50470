import type { Address, CodeableConcept, Coding, ContactPoint, HumanName, Identifier } from '@medplum/fhirtypes';
import type { Comp } from '../fields.ts';

/** HL7 coding-system names (table 0396 and common local spellings) → FHIR system URIs. */
const CODE_SYSTEMS: Record<string, string> = {
  LN: 'http://loinc.org', LOINC: 'http://loinc.org',
  SCT: 'http://snomed.info/sct', SNM: 'http://snomed.info/sct', SNOMED: 'http://snomed.info/sct', SNOMEDCT: 'http://snomed.info/sct',
  I10: 'http://hl7.org/fhir/sid/icd-10-cm', 'I10C': 'http://hl7.org/fhir/sid/icd-10-cm', ICD10: 'http://hl7.org/fhir/sid/icd-10-cm', 'ICD10CM': 'http://hl7.org/fhir/sid/icd-10-cm',
  I9: 'http://hl7.org/fhir/sid/icd-9-cm', I9C: 'http://hl7.org/fhir/sid/icd-9-cm', ICD9: 'http://hl7.org/fhir/sid/icd-9-cm',
  CVX: 'http://hl7.org/fhir/sid/cvx', MVX: 'http://hl7.org/fhir/sid/mvx', NDC: 'http://hl7.org/fhir/sid/ndc',
  RXNORM: 'http://www.nlm.nih.gov/research/umls/rxnorm', RXN: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  UCUM: 'http://unitsofmeasure.org', ISO: 'http://unitsofmeasure.org', 'ISO+': 'http://unitsofmeasure.org', ANS: 'http://unitsofmeasure.org', ANSI: 'http://unitsofmeasure.org',
  CPT: 'http://www.ama-assn.org/go/cpt', C4: 'http://www.ama-assn.org/go/cpt', NCIT: 'http://ncimeta.nci.nih.gov',
  CDCREC: 'urn:oid:2.16.840.1.113883.6.238', NUCC: 'http://nucc.org/provider-taxonomy',
};

/** FHIR system URI for an HL7 coding-system name; HL7 tables (HL7nnnn) get the v2 terminology URI. */
export function codeSystemUri(name: string): string | undefined {
  if (!name) return undefined;
  const upper = name.toUpperCase();
  if (CODE_SYSTEMS[upper]) return CODE_SYSTEMS[upper];
  const table = /^HL7(\d{4})$/.exec(upper);
  if (table) return `http://terminology.hl7.org/CodeSystem/v2-${table[1]}`;
  if (/^\d+(\.\d+)+$/.test(name)) return `urn:oid:${name}`;
  return `urn:katahdin:codesystem:${encodeURIComponent(name)}`;
}

function coding(code: string, display: string, system: string): Coding | undefined {
  if (!code && !display) return undefined;
  const c: Coding = {};
  const uri = codeSystemUri(system);
  if (uri && code) c.system = uri;
  if (code) c.code = code;
  if (display) c.display = display;
  return c;
}

/** CE/CWE/CNE → CodeableConcept (primary and alternate triplets). */
export function codeableConcept(c: Comp): CodeableConcept | undefined {
  const codings = [coding(c(1), c(2), c(3)), coding(c(4), c(5), c(6))].filter((x): x is Coding => !!x && !!x.code);
  const text = c(9) || c(2) || c(5) || undefined;
  if (codings.length === 0 && !text) return undefined;
  return { ...(codings.length ? { coding: codings } : {}), ...(text ? { text } : {}) };
}

/** System URI for an assigning authority: ISO OID → urn:oid, otherwise a Katahdin namespace. */
export function identifierSystem(namespace: string, universalId: string, universalIdType: string, fallback: string): string {
  if (universalId && /^ISO$/i.test(universalIdType) && /^\d+(\.\d+)+$/.test(universalId)) return `urn:oid:${universalId}`;
  // A uri cannot hold spaces ("GHH LAB"); encoding keeps it valid and still unique per authority.
  return `urn:katahdin:id:${encodeURIComponent(namespace || universalId || fallback)}`;
}

/** CX → Identifier (PID-3, PV1-19, MRG-1 …). Type from CX-5 (v2-0203). */
export function cxIdentifier(c: Comp, fallbackAuthority: string): Identifier | undefined {
  const value = c(1);
  if (!value) return undefined;
  const system = identifierSystem(c(4, 1), c(4, 2), c(4, 3), fallbackAuthority);
  const id: Identifier = { system, value };
  if (c(5)) id.type = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: c(5) }] };
  return id;
}

const NAME_USE: Record<string, HumanName['use']> = { L: 'official', D: 'usual', M: 'maiden', N: 'nickname', A: 'anonymous', B: 'official', C: 'old', P: 'usual', S: 'anonymous', T: 'temp' };

/** XPN (or the name part of XCN starting at `offset`) → HumanName. */
export function humanName(c: Comp, offset = 0): HumanName | undefined {
  const at = (i: number) => c(i + offset);
  const given = [at(2), at(3)].filter(Boolean);
  const family = at(1);
  if (!family && given.length === 0) return undefined;
  const name: HumanName = {};
  if (family) name.family = family;
  if (given.length) name.given = given;
  if (at(5)) name.prefix = [at(5)];
  const suffix = [at(4), at(6)].filter(Boolean);
  if (suffix.length) name.suffix = suffix;
  const use = NAME_USE[c(7 + offset)];
  if (use) name.use = use;
  return name;
}

const ADDRESS_USE: Record<string, Address['use']> = { H: 'home', B: 'work', O: 'work', C: 'temp', BA: 'billing', M: 'home', P: 'home', L: 'home', OLD: 'old' };

/** XAD → Address. */
export function address(c: Comp): Address | undefined {
  const line = [c(1), c(2)].filter(Boolean);
  const a: Address = {};
  if (line.length) a.line = line;
  if (c(3)) a.city = c(3);
  if (c(4)) a.state = c(4);
  if (c(5)) a.postalCode = c(5);
  if (c(6)) a.country = c(6);
  if (c(9)) a.district = c(9);
  const use = ADDRESS_USE[c(7)];
  if (use) a.use = use;
  return Object.keys(a).length > (a.use ? 1 : 0) ? a : undefined;
}

const TELECOM_USE: Record<string, ContactPoint['use']> = { PRN: 'home', ORN: 'home', WPN: 'work', VHN: 'home', ASN: 'temp', EMR: 'home', NET: 'home', BPN: 'work' };

/** XTN → ContactPoint: structured parts (v2.5+) win over the legacy free-text number. */
export function contactPoint(c: Comp): ContactPoint | undefined {
  const equipment = c(3);
  const email = c(4);
  const structured = [c(5) ? `+${c(5)} ` : '', c(6) ? `(${c(6)}) ` : '', c(7), c(8) ? ` x${c(8)}` : ''].join('').trim();
  const isEmail = equipment === 'Internet' || equipment === 'X.400' || (!!email && email.includes('@'));
  const value = isEmail ? email : c(12) || structured || c(1);
  if (!value) return undefined;
  const system: ContactPoint['system'] = isEmail ? 'email' : equipment === 'FX' ? 'fax' : equipment === 'BP' ? 'pager' : 'phone';
  const cp: ContactPoint = { system, value };
  const use = equipment === 'CP' ? 'mobile' : TELECOM_USE[c(2)];
  if (use) cp.use = use;
  return cp;
}

const GENDER: Record<string, 'male' | 'female' | 'other' | 'unknown'> = { M: 'male', F: 'female', O: 'other', A: 'other', N: 'other', U: 'unknown' };

export function gender(code: string): 'male' | 'female' | 'other' | 'unknown' | undefined {
  return GENDER[code.toUpperCase()];
}
