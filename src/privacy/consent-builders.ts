import type { Coding, Consent, ConsentProvision, Reference } from '@medplum/fhirtypes';

type PerformerRef = NonNullable<Consent['performer']>[number];
import { labelCoding } from './labels/classifier.ts';
import { ACT_CODE_SYSTEM, type SensitivityLabel } from './labels/value-set-types.ts';

/** How the choice reached us: the portal, a signed paper form, or a phone call taken by staff. */
export type ConsentChannel = 'online' | 'paper' | 'phone';

export const CONSENT_SCOPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/consentscope';
export const CONSENT_CHANNEL_URL = 'http://katahdin.org/fhir/StructureDefinition/consent-channel';
/** Policy of category consents (they carry no OPTIN/OPTOUT rule; `provision.securityLabel` says which category). */
export const CATEGORY_POLICY_URI = 'http://katahdin.org/fhir/policy/sensitive-category-sharing';
const LOINC_PATIENT_CONSENT: Coding = { system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' };

export interface ConsentInput {
  /** `Patient/{id}` of the person's enterprise (MPI) patient record. */
  patientRef: string;
  channel: ConsentChannel;
  /** Effective date/time (ISO 8601). For opt-in, data from visits before it is refused. */
  date: string;
  /** Who recorded it: the patient, or the registrar / privacy officer acting for them. */
  performer: string | PerformerRef;
  /** When it was recorded; defaults to `date`. */
  recordedAt?: string;
}

function toRef(r: string | PerformerRef): PerformerRef {
  return typeof r === 'string' ? ({ reference: r } as Reference as PerformerRef) : r;
}

function base(input: ConsentInput, provision: ConsentProvision): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: CONSENT_SCOPE_SYSTEM, code: 'patient-privacy' }] },
    category: [{ coding: [LOINC_PATIENT_CONSENT] }],
    patient: { reference: input.patientRef },
    dateTime: input.recordedAt ?? input.date,
    performer: [toRef(input.performer)],
    extension: [{ url: CONSENT_CHANNEL_URL, valueCode: input.channel }],
    provision: { ...provision, period: { start: input.date } },
  };
}

function participation(input: ConsentInput, rule: 'OPTOUT' | 'OPTIN'): Consent {
  return {
    ...base(input, { type: rule === 'OPTOUT' ? 'deny' : 'permit' }),
    policyRule: { coding: [{ system: ACT_CODE_SYSTEM, code: rule }] },
  };
}

function category(input: ConsentInput, labels: SensitivityLabel[], type: 'permit' | 'deny'): Consent {
  if (labels.length === 0) throw new RangeError('a category consent names at least one label');
  return {
    ...base(input, { type, securityLabel: labels.map(labelCoding) }),
    policy: [{ uri: CATEGORY_POLICY_URI }],
  };
}

/** Leave the HIE: all health information is purged and new data refused. */
export function buildOptOut(input: ConsentInput): Consent {
  return participation(input, 'OPTOUT');
}

/** Come back: only data from visits on or after `date` is kept. */
export function buildOptIn(input: ConsentInput): Consent {
  return participation(input, 'OPTIN');
}

/** Let treating clinicians see one or more sensitive categories. */
export function buildShareCategory(input: ConsentInput & { labels: SensitivityLabel[] }): Consent {
  return category(input, input.labels, 'permit');
}

/** Withdraw an earlier permission to share a category. */
export function buildWithholdCategory(input: ConsentInput & { labels: SensitivityLabel[] }): Consent {
  return category(input, input.labels, 'deny');
}
