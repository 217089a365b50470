// Matcher records of the labelled sets as the FHIR source Patients a sending system would post.
import type { Address, ContactPoint, Identifier, Patient } from '@medplum/fhirtypes';
import { SSN_SYSTEM, type MpiRecord } from '../../src/mpi/normalize.ts';

export const EVAL_MRN_SYSTEM = 'urn:katahdin:id:EVAL';

/** The FHIR `date` regex (R4): a corrupt corpus date such as 1980-13-45 would be rejected by the server. */
const FHIR_DATE = /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$/;

const GENDERS = new Set(['male', 'female', 'other', 'unknown']);

export function validFhirDate(value: string | undefined): value is string {
  return !!value && FHIR_DATE.test(value);
}

function address(r: MpiRecord): Address[] | undefined {
  if (!r.street && !r.city && !r.postalCode) return undefined;
  return [{ line: r.street ? [r.street] : undefined, city: r.city || undefined, postalCode: r.postalCode || undefined }];
}

function telecom(r: MpiRecord): ContactPoint[] | undefined {
  const out: ContactPoint[] = [];
  if (r.phone) out.push({ system: 'phone', value: r.phone });
  if (r.email) out.push({ system: 'email', value: r.email });
  return out.length ? out : undefined;
}

/**
 * One source Patient per record: an MRN from the evaluation source, the name, birth date (omitted when it is not
 * a valid FHIR date, as a sender's validation would), gender, SSN, address, phone and email.
 */
export function recordToPatient(r: MpiRecord): Patient {
  const identifier: Identifier[] = [{ system: EVAL_MRN_SYSTEM, value: `MRN-${r.id}` }];
  const ssn = (r.ssn ?? '').replace(/\D/g, '');
  // The server keeps only 9-digit SSNs (sealed); FEBRL's 7-digit ids are left-padded so they survive storage.
  if (ssn.length > 0 && ssn.length <= 9) identifier.push({ system: SSN_SYSTEM, value: ssn.padStart(9, '0') });
  const given = r.given.filter((g) => g.trim().length > 0);
  const family = r.family.trim();
  return {
    resourceType: 'Patient',
    identifier,
    name: given.length || family ? [{ use: 'official', family: family || undefined, given: given.length ? given : undefined }] : undefined,
    birthDate: validFhirDate(r.birthDate) ? r.birthDate : undefined,
    gender: r.sex && GENDERS.has(r.sex) ? r.sex : undefined,
    address: address(r),
    telecom: telecom(r),
  };
}
