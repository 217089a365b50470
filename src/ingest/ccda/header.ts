import type { Ccda, CcdaAddr, CcdaId, CcdaOrganization, CcdaTelecom } from '@medplum/ccda';
import { convertCcdaToFhir } from '@medplum/ccda';
import type { Address, ContactPoint, HumanName, Identifier, Organization, Patient } from '@medplum/fhirtypes';
import { arr, attr, fhirDate, textOf, usableIds } from './cda-values.ts';
import { hashIdentifier, identifierFromCdaId, URI_SYSTEM } from './dedupe-keys.ts';

export const SSN_SYSTEM = 'http://hl7.org/fhir/sid/us-ssn';
const GENDER: Record<string, Patient['gender']> = { M: 'male', F: 'female', UN: 'unknown' };

/**
 * recordTarget → Patient. Race/ethnicity extensions come from @medplum/ccda's header conversion
 * (when it does not fail); names (fix #5: its name mapping loses parts with qualifiers and fails on
 * some vendor headers), identifiers, birth date (fix #2: keeps the source precision), gender
 * (unknown codes dropped), addresses, telecom and deceased are mapped here.
 */
export function mapPatient(ccda: Ccda): { patient: Patient; key?: Identifier } {
  const role = arr(ccda.recordTarget)[0]?.patientRole;
  const source = role?.patient;
  const base = medplumPatient(ccda);
  const identifier = patientIdentifiers(role?.id);
  const patient: Patient = { resourceType: 'Patient' };
  if (identifier.length) patient.identifier = identifier;
  const names = mapNames(source?.name);
  if (names.length) patient.name = names;
  const gender = GENDER[attr(source?.administrativeGenderCode, 'code') ?? ''];
  if (gender) patient.gender = gender;
  const birthDate = fhirDate(attr(source?.birthTime, 'value'));
  if (birthDate) patient.birthDate = birthDate;
  const sdtc = source as unknown as Record<string, unknown> | undefined;
  if (attr(sdtc?.['sdtc:deceasedInd'], 'value') === 'true') patient.deceasedBoolean = true;
  const addresses = mapAddresses(role?.addr);
  if (addresses.length) patient.address = addresses;
  const telecom = mapTelecom(role?.telecom);
  if (telecom.length) patient.telecom = telecom;
  if (base?.extension?.length) patient.extension = base.extension;
  return { patient, key: identifier.find((i) => i.system !== SSN_SYSTEM) };
}

function medplumPatient(ccda: Ccda): Patient | undefined {
  try {
    const header = convertCcdaToFhir({ ...ccda, component: undefined } as Ccda, { ignoreUnsupportedSections: true });
    return header.entry?.map((e) => e.resource).find((r): r is Patient => r?.resourceType === 'Patient');
  } catch {
    return undefined;
  }
}

/** Patient ids: SSN root → us-ssn with the 9 digits (masked or malformed SSNs are dropped). */
function patientIdentifiers(ids: CcdaId[] | undefined): Identifier[] {
  const out: Identifier[] = [];
  for (const id of usableIds(ids)) {
    if (attr(id, 'root') === '2.16.840.1.113883.4.1') {
      const digits = (attr(id, 'extension') ?? '').replace(/-/g, '');
      if (/^\d{9}$/.test(digits)) out.push({ system: SSN_SYSTEM, value: digits });
      continue;
    }
    const identifier = identifierFromCdaId(id);
    if (identifier) out.push(identifier);
  }
  return out;
}

const NAME_USE: Record<string, HumanName['use']> = { L: 'official', C: 'official', P: 'nickname', A: 'nickname', ANON: 'anonymous', TEMP: 'temp', OR: 'official' };

/** PN → HumanName. Parts may carry qualifiers (parsed as objects), so text is read from either shape. */
export function mapNames(names: unknown): HumanName[] {
  return arr(names as Record<string, unknown> | Record<string, unknown>[]).flatMap((n) => {
    const out: HumanName = {};
    const use = NAME_USE[attr(n, 'use')?.split(' ')[0] ?? ''];
    if (use) out.use = use;
    const family = arr(n.family).map(textOf).filter((v): v is string => !!v);
    if (family.length) out.family = family.join(' ');
    for (const part of ['given', 'prefix', 'suffix'] as const) {
      const values = arr(n[part]).map(textOf).filter((v): v is string => !!v);
      if (values.length) out[part] = values;
    }
    const text = typeof n === 'string' ? textOf(n) : undefined;
    if (text) out.text = text;
    return out.family || out.given || out.text ? [out] : [];
  });
}

export function mapAddresses(addrs: CcdaAddr | CcdaAddr[] | undefined): Address[] {
  return arr(addrs).flatMap((a) => {
    const out: Address = {};
    const use = attr(a, 'use');
    if (use === 'HP' || use === 'H') out.use = 'home';
    if (use === 'WP') out.use = 'work';
    const lines = arr(a.streetAddressLine as unknown).map(textOf).filter((s): s is string => !!s);
    if (lines.length) out.line = lines;
    for (const part of ['city', 'state', 'postalCode', 'country'] as const) {
      const value = textOf((a as unknown as Record<string, unknown>)[part]);
      if (value) out[part] = value;
    }
    return out.line || out.city || out.postalCode ? [out] : [];
  });
}

export function mapTelecom(telecoms: CcdaTelecom | CcdaTelecom[] | undefined): ContactPoint[] {
  return arr(telecoms).flatMap((t) => {
    const raw = attr(t, 'value');
    if (!raw) return [];
    const system: ContactPoint['system'] = raw.startsWith('mailto:') ? 'email' : raw.startsWith('fax:') ? 'fax' : raw.startsWith('tel:') ? 'phone' : 'other';
    const out: ContactPoint = { system, value: raw.replace(/^(tel|mailto|fax):/, '').trim() };
    const use = attr(t, 'use');
    if (use === 'HP' || use === 'H') out.use = 'home';
    if (use === 'WP') out.use = 'work';
    if (use === 'MC') out.use = 'mobile';
    return [out];
  });
}

/** Organization with identifiers (NPI etc.), name, address and telecom; `key` is its dedupe identifier. */
export function mapOrganization(org: CcdaOrganization | undefined): { organization: Organization; key: Identifier } | undefined {
  if (!org) return undefined;
  const identifier = usableIds(org.id).map(identifierFromCdaId).filter((i): i is Identifier => !!i);
  const name = textOf(arr(org.name as unknown)[0]);
  if (!identifier.length && !name) return undefined;
  const key = identifier[0] ?? hashIdentifier('Organization', name?.toLowerCase());
  const organization: Organization = { resourceType: 'Organization', identifier: identifier.length ? identifier : [key] };
  if (name) organization.name = name;
  // org-2: an organization's address is never a home address (vendors copy use="HP").
  const address = mapAddresses(org.addr).map(({ use, ...rest }) => (use === 'home' ? rest : { use, ...rest }));
  if (address.length) organization.address = address;
  const telecom = mapTelecom(org.telecom);
  if (telecom.length) organization.telecom = telecom;
  return { organization, key };
}

/** The id of the organization that vouches for the document, as a URI segment for meta.source. */
export function sourceSegment(key: Identifier | undefined): string | undefined {
  if (!key?.value) return undefined;
  const value = key.system === URI_SYSTEM ? key.value.replace(/^urn:(oid|uuid):/, '') : `${key.system?.replace(/^urn:oid:/, '')}:${key.value}`;
  return encodeURIComponent(value).replace(/%3A/gi, ':');
}
