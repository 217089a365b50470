import type { Hl7Segment } from '@medplum/core';
import type { Identifier, Organization, Patient, Practitioner, Provenance} from '@medplum/fhirtypes';
import { repAt, reps, val } from '../fields.ts';
import { Hl7ErrorCode } from '../types.ts';
import type { Hl7Error } from '../types.ts';
import { FACILITY_SYSTEM, type BundleBuilder, type Ref } from './context.ts';
import { hl7ToFhirDate, hl7ToFhirDateTime } from './datetime.ts';
import { address, contactPoint, cxIdentifier, gender, humanName, identifierSystem } from './datatypes.ts';

export const SSN_SYSTEM = 'http://hl7.org/fhir/sid/us-ssn';

/** The sending facility as an Organization, created once (conditional create on its identifier). */
export function addSourceOrganization(b: BundleBuilder): Ref {
  const h = b.header;
  const identifier: Identifier = { system: FACILITY_SYSTEM, value: h.facilityKey };
  const org: Organization = {
    resourceType: 'Organization',
    identifier: [identifier, ...(h.sendingFacility.universalId ? [{ system: identifierSystem('', h.sendingFacility.universalId, h.sendingFacility.universalIdType, h.facilityKey), value: h.sendingFacility.universalId }] : [])],
    name: h.sendingFacility.namespace || h.facilityKey,
    active: true,
  };
  return b.createIfNone('organization:source', org, identifier);
}

/** PID-3 identifiers; PID-19 SSN (and SS-typed PID-3 repetitions) go to the us-ssn system. */
export function patientIdentifiers(pid: Hl7Segment, facility: string): Identifier[] {
  const ids: Identifier[] = [];
  for (const c of reps(pid, 3)) {
    const id = c(5) === 'SS' ? { system: SSN_SYSTEM, value: c(1) } : cxIdentifier(c, facility);
    if (id && id.value) ids.push(id);
  }
  // PID-2 (external id) and PID-4 (alternate id) exist only in older versions; keep them as identifiers.
  for (const field of [2, 4]) for (const c of reps(pid, field)) { const id = cxIdentifier(c, facility); if (id) ids.push(id); }
  const ssn = val(pid, 19);
  if (ssn && !ids.some((i) => i.system === SSN_SYSTEM)) ids.push({ system: SSN_SYSTEM, value: ssn });
  return ids;
}

/** The identifier used for the conditional upsert: an MR-typed one first, never the SSN. */
export function matchIdentifier(ids: Identifier[]): Identifier | undefined {
  const usable = ids.filter((i) => i.system !== SSN_SYSTEM);
  return usable.find((i) => i.type?.coding?.[0]?.code === 'MR') ?? usable[0];
}

export function missingPid(sequence?: number): Hl7Error {
  return { code: Hl7ErrorCode.RequiredFieldMissing, ackCode: 'AE', reason: 'PID-3 patient identifier missing', location: { segment: 'PID', sequence, field: 3 } };
}

/** The patient as other mappers see it: its bundle reference and a stable key for derived identifiers. */
export interface PatientLink {
  ref: Ref;
  /** `system|value` of the matching identifier (scopes derived identifiers to this patient). */
  key: string;
  /** The visit of a non-ADT message, when PV1-19 names one. */
  encounter?: Ref;
}

/** PID → Patient upserted by `PUT Patient?identifier=`; returns its link, or an error when PID-3 is empty. */
export function addPatient(b: BundleBuilder, pid: Hl7Segment | undefined, org: Ref, key = 'patient'): PatientLink | Hl7Error {
  if (!pid) return { code: Hl7ErrorCode.SegmentSequence, ackCode: 'AE', reason: 'PID segment missing', location: { segment: 'PID' } };
  const identifier = patientIdentifiers(pid, b.header.facilityKey);
  const match = matchIdentifier(identifier);
  // ERL-2 (segment sequence) is required from v2.5: which PID, when a message holds several (A40).
  if (!match) return missingPid(b.parsed.message.getAllSegments('PID').indexOf(pid) + 1);
  const tz = b.options.timeZone;
  const patient: Patient = { resourceType: 'Patient', identifier, managingOrganization: org };
  const names = reps(pid, 5).map((c) => humanName(c)).filter((n) => n !== undefined);
  if (names.length) patient.name = names;
  const birth = hl7ToFhirDate(val(pid, 7));
  if (birth) patient.birthDate = birth;
  const g = gender(val(pid, 8));
  if (g) patient.gender = g;
  const addresses = reps(pid, 11).map(address).filter((a) => a !== undefined);
  if (addresses.length) patient.address = addresses;
  const telecom = [...reps(pid, 13), ...reps(pid, 14)].map(contactPoint).filter((t) => t !== undefined);
  if (telecom.length) patient.telecom = telecom;
  const death = hl7ToFhirDateTime(val(pid, 29), tz);
  if (death) patient.deceasedDateTime = death;
  else if (val(pid, 30) === 'Y') patient.deceasedBoolean = true;
  return { ref: b.put(key, patient, match), key: `${match.system}|${match.value}` };
}

export function isError(x: unknown): x is Hl7Error {
  return typeof x === 'object' && x !== null && 'code' in x && 'reason' in x;
}

/** Identifier minted for items v2 gives no id of their own (allergies, diagnoses, kin): stable per patient + code. */
export function derivedIdentifier(b: BundleBuilder, kind: string, patient: PatientLink, ...parts: string[]): Identifier {
  return { system: `urn:katahdin:hl7v2:${encodeURIComponent(b.header.facilityKey)}:${kind}`, value: [patient.key, ...parts].join('|') };
}

/** XCN (ID + name) → Practitioner by conditional create; without an id only a display reference. */
export function addPractitioner(b: BundleBuilder, seg: Hl7Segment, field: number, rep = 0): Ref | undefined {
  const c = repAt(seg, field, rep);
  const name = humanName(c, 1);
  const display = name ? [name.given?.join(' '), name.family].filter(Boolean).join(' ') : undefined;
  const id = c(1);
  if (!id) return display ? { display } : undefined;
  const identifier: Identifier = { system: identifierSystem(c(9, 1), c(9, 2), c(9, 3), b.header.facilityKey), value: id };
  const practitioner: Practitioner = { resourceType: 'Practitioner', identifier: [identifier], ...(name ? { name: [name] } : {}) };
  const ref = b.createIfNone(`practitioner:${identifier.system}|${id}`, practitioner, identifier);
  return display ? { ...ref, display } : ref;
}

/** One Provenance per message: targets every entry, agent = source organization, entity = the message id. */
export function addProvenance(b: BundleBuilder, org: Ref): void {
  const h = b.header;
  const targets = b.entries.map((e) => ({ reference: e.fullUrl }));
  const recorded = hl7ToFhirDateTime(h.timestamp, b.options.timeZone) ?? b.options.now.toISOString();
  const provenance: Provenance = {
    resourceType: 'Provenance',
    target: targets,
    recorded: recorded.length > 10 ? recorded : b.options.now.toISOString(),
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'UPDATE' }] },
    agent: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }] }, who: org }],
    entity: [{ role: 'source', what: { identifier: { system: `urn:katahdin:hl7v2:control-id:${encodeURIComponent(h.facilityKey)}`, value: h.controlId }, display: `HL7v2 ${h.messageType}^${h.triggerEvent}` } }],
  };
  b.put('provenance', provenance, undefined);
}
