import type { Hl7Segment } from '@medplum/core';
import type { CodeableConcept, Dosage, MedicationAdministration, MedicationDispense, MedicationRequest} from '@medplum/fhirtypes';
import { encodedIdentifierToken } from '../../../fhir/search-token.ts';
import { repAt, val } from '../fields.ts';
import { Hl7ErrorCode, type Hl7Error } from '../types.ts';
import type { BundleBuilder, Ref } from './context.ts';
import { hl7ToFhirDateTime } from './datetime.ts';
import { codeableConcept } from './datatypes.ts';
import { addPatient, addPractitioner, derivedIdentifier, isError, type PatientLink } from './common.ts';
import { addVisitReference } from './encounter.ts';
import { groupIdentifiers } from './oru.ts';
import { uniqueItems } from './item-keys.ts';

/** A pharmacy order group: the ORC and the RXE/RXD/RXA (with RXR) that follow it. */
interface RxGroup { orc?: Hl7Segment; rx: Hl7Segment; rxr?: Hl7Segment; index: number }

function rxGroups(segments: Hl7Segment[], rxName: string): RxGroup[] {
  const out: RxGroup[] = [];
  let orc: Hl7Segment | undefined;
  segments.forEach((seg, i) => {
    if (seg.name === 'ORC') orc = seg;
    if (seg.name !== rxName) return;
    const rxr = segments.slice(i + 1).find((s, j, arr) => s.name === 'RXR' && arr.slice(0, j).every((x) => !['ORC', rxName].includes(x.name)));
    out.push({ orc, rx: seg, rxr, index: out.length });
  });
  return out;
}

/**
 * Per group, the event's item under its order number (`item`, e.g. RXD-7 prescription number); where one message
 * repeats it under the same order, the drug code (`codeField`) and then the occurrence tell the events apart.
 */
function eventItems(b: BundleBuilder, groups: RxGroup[], item: (g: RxGroup) => string, codeField: number): string[] {
  const anchors = groups.map((g) => groupIdentifiers({ orc: g.orc }, b.header.facilityKey)[0]);
  return uniqueItems(anchors, groups.map(item), (i) => val(groups[i].rx, codeField));
}

function missing(segment: string, field: number, what: string, sequence: number): Hl7Error {
  return { code: Hl7ErrorCode.RequiredFieldMissing, ackCode: 'AE', reason: `${segment}-${field} ${what} missing`, location: { segment, sequence, field } };
}

function dose(rx: Hl7Segment, amountField: number, unitField: number, rxr?: Hl7Segment): Dosage | undefined {
  const amount = Number(val(rx, amountField));
  const unit = val(rx, unitField);
  const route = rxr ? codeableConcept(repAt(rxr, 1, 0)) : undefined;
  const d: Dosage = {};
  if (val(rx, amountField) && !Number.isNaN(amount)) d.doseAndRate = [{ doseQuantity: { value: amount, ...(unit ? { unit, system: 'http://unitsofmeasure.org', code: unit } : {}) } }];
  if (route) d.route = route;
  return Object.keys(d).length ? d : undefined;
}

const ORDER_STATUS: Record<string, MedicationRequest['status']> = { CA: 'cancelled', DC: 'stopped', HD: 'on-hold', CM: 'completed', ER: 'entered-in-error', NW: 'active', SC: 'active', IP: 'active', A: 'active', XO: 'active', RP: 'active' };

function addRequest(b: BundleBuilder, g: RxGroup, patient: PatientLink, medication: CodeableConcept): Ref {
  const ids = groupIdentifiers({ orc: g.orc }, b.header.facilityKey);
  const identifier = ids[0] ?? derivedIdentifier(b, 'medication-request', patient, medication.coding?.[0]?.code ?? medication.text ?? '', String(g.index));
  const req: MedicationRequest = {
    resourceType: 'MedicationRequest',
    identifier: ids.length ? ids : [identifier],
    status: ORDER_STATUS[val(g.orc ?? g.rx, 5)] ?? ORDER_STATUS[val(g.orc ?? g.rx, 1)] ?? 'active',
    intent: 'order',
    medicationCodeableConcept: medication,
    subject: patient.ref,
    ...(patient.encounter ? { encounter: patient.encounter } : {}),
  };
  const authored = g.orc ? hl7ToFhirDateTime(val(g.orc, 9), b.options.timeZone) : undefined;
  if (authored) req.authoredOn = authored;
  const requester = g.orc ? addPractitioner(b, g.orc, 12) : undefined;
  if (requester) req.requester = requester;
  const dosage = dose(g.rx, 3, 5, g.rxr);
  if (dosage) req.dosageInstruction = [{ ...dosage, ...(val(g.rx, 21) ? { text: val(g.rx, 21) } : {}) }];
  if (val(g.rx, 10)) req.dispenseRequest = { quantity: { value: Number(val(g.rx, 10)) || undefined, unit: val(g.rx, 11) || undefined } };
  return b.put(`medication-request:${g.index}`, req, identifier);
}

/** RDE^O11 → MedicationRequest per RXE (RXE-2 give code). */
export function mapRde(b: BundleBuilder, patient: PatientLink): Hl7Error | undefined {
  for (const g of rxGroups(b.parsed.message.segments, 'RXE')) {
    const med = codeableConcept(repAt(g.rx, 2, 0));
    if (!med) return missing('RXE', 2, 'give code', g.index + 1);
    addRequest(b, g, patient, med);
  }
  return undefined;
}

/** The order the event fulfils, by the same identifier the RDE upserted (resolved by the record layer). */
function prescriptionRef(b: BundleBuilder, g: RxGroup): Ref | undefined {
  const id = groupIdentifiers({ orc: g.orc }, b.header.facilityKey)[0];
  return id ? { reference: `MedicationRequest?identifier=${encodedIdentifierToken(id)}` } : undefined;
}

/** RDS^O13 → MedicationDispense per RXD. */
export function mapRds(b: BundleBuilder, patient: PatientLink): Hl7Error | undefined {
  const groups = rxGroups(b.parsed.message.segments, 'RXD');
  const items = eventItems(b, groups, (g) => val(g.rx, 7) || String(g.index), 2);
  for (const g of groups) {
    const med = codeableConcept(repAt(g.rx, 2, 0));
    if (!med) return missing('RXD', 2, 'dispense code', g.index + 1);
    const ids = groupIdentifiers({ orc: g.orc }, b.header.facilityKey);
    const identifier = ids[0] ? { system: `${ids[0].system}:dispense`, value: `${ids[0].value}|${items[g.index]}` } : derivedIdentifier(b, 'dispense', patient, med.coding?.[0]?.code ?? '', val(g.rx, 3));
    const d: MedicationDispense = { resourceType: 'MedicationDispense', identifier: [identifier], status: 'completed', medicationCodeableConcept: med, subject: patient.ref };
    const handed = hl7ToFhirDateTime(val(g.rx, 3), b.options.timeZone);
    if (handed) d.whenHandedOver = handed;
    if (val(g.rx, 4)) d.quantity = { value: Number(val(g.rx, 4)) || undefined, unit: val(g.rx, 5) || undefined };
    const rx = prescriptionRef(b, g);
    if (rx) d.authorizingPrescription = [rx];
    b.put(`dispense:${g.index}`, d, identifier);
  }
  return undefined;
}

/** RAS^O17 → MedicationAdministration per RXA. */
export function mapRas(b: BundleBuilder, patient: PatientLink): Hl7Error | undefined {
  const groups = rxGroups(b.parsed.message.segments, 'RXA');
  const items = eventItems(b, groups, (g) => val(g.rx, 2) || String(g.index), 5);
  for (const g of groups) {
    const med = codeableConcept(repAt(g.rx, 5, 0));
    const when = hl7ToFhirDateTime(val(g.rx, 3), b.options.timeZone);
    if (!med) return missing('RXA', 5, 'administered code', g.index + 1);
    if (!when) return missing('RXA', 3, 'administration time', g.index + 1);
    const ids = groupIdentifiers({ orc: g.orc }, b.header.facilityKey);
    const identifier = ids[0] ? { system: `${ids[0].system}:administration`, value: `${ids[0].value}|${items[g.index]}` } : derivedIdentifier(b, 'administration', patient, med.coding?.[0]?.code ?? '', val(g.rx, 3));
    const a: MedicationAdministration = {
      resourceType: 'MedicationAdministration', identifier: [identifier], status: val(g.rx, 20) === 'RE' || val(g.rx, 20) === 'NA' ? 'not-done' : 'completed',
      medicationCodeableConcept: med, subject: patient.ref, effectiveDateTime: when,
    };
    const dosage = dose(g.rx, 6, 7, g.rxr);
    if (dosage) a.dosage = { ...(dosage.route ? { route: dosage.route } : {}), ...(dosage.doseAndRate?.[0]?.doseQuantity ? { dose: dosage.doseAndRate[0].doseQuantity } : {}) };
    const rx = prescriptionRef(b, g);
    if (rx) a.request = rx;
    b.put(`administration:${g.index}`, a, identifier);
  }
  return undefined;
}

/** Shared entry: the Patient (and visit) first, then the family mapper. */
export function mapPharmacy(b: BundleBuilder, org: Ref, family: (b: BundleBuilder, p: PatientLink) => Hl7Error | undefined): Hl7Error | undefined {
  const patient = addPatient(b, b.parsed.message.getSegment('PID'), org);
  if (isError(patient)) return patient;
  return family(b, { ...patient, encounter: addVisitReference(b, patient, org) });
}
