import type { Hl7Segment } from '@medplum/core';
import type { Identifier, Immunization} from '@medplum/fhirtypes';
import { repAt, val } from '../fields.ts';
import { Hl7ErrorCode, type Hl7Error } from '../types.ts';
import type { BundleBuilder, Ref } from './context.ts';
import { hl7ToFhirDate, hl7ToFhirDateTime } from './datetime.ts';
import { codeableConcept } from './datatypes.ts';
import { addPatient, addPractitioner, derivedIdentifier, isError, type PatientLink } from './common.ts';
import { addVisitReference } from './encounter.ts';
import { groupIdentifiers } from './oru.ts';

/** RXA-20 completion status → Immunization.status; RXA-21 action D marks a deletion. */
function status(rxa: Hl7Segment): Immunization['status'] {
  if (val(rxa, 21) === 'D') return 'entered-in-error';
  const s = val(rxa, 20);
  return s === 'RE' || s === 'NA' ? 'not-done' : 'completed';
}

interface RxaCtx { rxr?: Hl7Segment; orc?: Hl7Segment; patient: PatientLink; encounter?: Ref; index: number }

function addImmunization(b: BundleBuilder, rxa: Hl7Segment, { rxr, orc, patient, encounter, index }: RxaCtx): Hl7Error | undefined {
  const vaccineCode = codeableConcept(repAt(rxa, 5, 0));
  const occurrence = hl7ToFhirDateTime(val(rxa, 3), b.options.timeZone);
  if (!vaccineCode) return { code: Hl7ErrorCode.RequiredFieldMissing, ackCode: 'AE', reason: 'RXA-5 administered code missing', location: { segment: 'RXA', sequence: index + 1, field: 5 } };
  if (!occurrence) return { code: Hl7ErrorCode.RequiredFieldMissing, ackCode: 'AE', reason: 'RXA-3 administration time missing or invalid', location: { segment: 'RXA', sequence: index + 1, field: 3 } };
  const ids: Identifier[] = groupIdentifiers({ orc }, b.header.facilityKey);
  const identifier = ids[0] ?? derivedIdentifier(b, 'immunization', patient, vaccineCode.coding?.[0]?.code ?? '', val(rxa, 3).slice(0, 8));
  const imm: Immunization = {
    resourceType: 'Immunization',
    identifier: ids.length ? ids : [identifier],
    status: status(rxa),
    vaccineCode,
    patient: patient.ref,
    occurrenceDateTime: occurrence,
    primarySource: val(rxa, 9) === '00' || val(rxa, 9) === '',
    ...(encounter ? { encounter } : {}),
  };
  const amount = Number(val(rxa, 6));
  if (val(rxa, 6) && !Number.isNaN(amount) && amount < 999) imm.doseQuantity = { value: amount, ...(val(rxa, 7) ? { unit: val(rxa, 7), system: 'http://unitsofmeasure.org', code: val(rxa, 7) } : {}) };
  if (val(rxa, 15)) imm.lotNumber = val(rxa, 15);
  const exp = hl7ToFhirDate(val(rxa, 16));
  if (exp && exp.length === 10) imm.expirationDate = exp;
  if (val(rxa, 17, 2) || val(rxa, 17)) imm.manufacturer = { display: val(rxa, 17, 2) || val(rxa, 17) };
  const performer = addPractitioner(b, rxa, 10);
  if (performer) imm.performer = [{ function: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0443', code: 'AP' }] }, actor: performer }];
  if (rxr) {
    const route = codeableConcept(repAt(rxr, 1, 0));
    const site = codeableConcept(repAt(rxr, 2, 0));
    if (route) imm.route = route;
    if (site) imm.site = site;
  }
  if (imm.status === 'not-done' && val(rxa, 18)) imm.statusReason = codeableConcept(repAt(rxa, 18, 0));
  b.put(`immunization:${index}`, imm, identifier);
  return undefined;
}

/** VXU^V04 → Immunization per RXA (with the RXR and ORC of its order group). */
export function mapVxu(b: BundleBuilder, org: Ref): Hl7Error | undefined {
  const msg = b.parsed.message;
  const patient = addPatient(b, msg.getSegment('PID'), org);
  if (isError(patient)) return patient;
  const encounter = addVisitReference(b, patient, org);
  let orc: Hl7Segment | undefined;
  let index = 0;
  for (let i = 0; i < msg.segments.length; i++) {
    const seg = msg.segments[i];
    if (seg.name === 'ORC') orc = seg;
    if (seg.name !== 'RXA') continue;
    const next = msg.segments[i + 1];
    const err = addImmunization(b, seg, { rxr: next?.name === 'RXR' ? next : undefined, orc, patient, encounter, index: index++ });
    if (err) return err;
  }
  return undefined;
}
