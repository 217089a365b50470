import type { CcdaCode, CcdaSubstanceAdministration } from '@medplum/ccda';
import type { CodeableConcept, Dosage, MedicationStatement, Quantity } from '@medplum/fhirtypes';
import { arr, attr, concept, effective, effectiveKey, firstCode, isNegated, textOf, xsiType } from '../cda-values.ts';
import type { EntryContext } from '../context.ts';

const UCUM = 'http://unitsofmeasure.org';
const STATUS: Record<string, MedicationStatement['status']> = {
  active: 'active',
  completed: 'completed',
  aborted: 'stopped',
  suspended: 'on-hold',
  cancelled: 'not-taken',
  new: 'intended',
  nullified: 'entered-in-error',
};
const PERIOD_UNITS = new Set(['s', 'min', 'h', 'd', 'wk', 'mo', 'a']);

/** The drug of a substanceAdministration (manufacturedMaterial/code), if it names one. */
export function productCode(sa: CcdaSubstanceAdministration): CodeableConcept | undefined {
  const material = arr(arr(sa.consumable?.manufacturedProduct)[0]?.manufacturedMaterial)[0];
  return concept(arr(material?.code)[0] as CcdaCode | undefined);
}

/**
 * Medication Activity (4.16) → MedicationStatement: what the patient takes (fix #3: @medplum/ccda
 * emits MedicationRequest with intent "order" and a dose unit hard-coded to [IU]).
 */
export function mapMedication(sa: CcdaSubstanceAdministration, ctx: EntryContext): void {
  const medication = productCode(sa);
  if (!medication) return ctx.skip('medication-without-code');
  const when = effective(arr(sa.effectiveTime).find((t) => xsiType(t) !== 'PIVL_TS' && xsiType(t) !== 'EIVL_TS'));
  const status = isNegated(sa) ? 'not-taken' : (STATUS[attr(sa.statusCode, 'code') ?? ''] ?? 'unknown');
  const resource: MedicationStatement = { resourceType: 'MedicationStatement', status, medicationCodeableConcept: medication, subject: ctx.patient };
  if (when.dateTime) resource.effectiveDateTime = when.dateTime;
  if (when.period) resource.effectivePeriod = when.period;
  const dosage = dosageOf(sa);
  if (dosage) resource.dosage = [dosage];
  ctx.add(resource, sa.id, ['MedicationStatement', firstCode(medication), effectiveKey(when)]);
}

function dosageOf(sa: CcdaSubstanceAdministration): Dosage | undefined {
  const dosage: Dosage = {};
  const route = concept(sa.routeCode);
  if (route) dosage.route = route;
  const dose = quantity(sa.doseQuantity);
  if (dose) dosage.doseAndRate = [{ doseQuantity: dose }];
  const period = arr(sa.effectiveTime).find((t) => xsiType(t) === 'PIVL_TS')?.period;
  const value = Number(attr(period, 'value'));
  const unit = attr(period, 'unit');
  if (Number.isFinite(value) && value > 0 && unit && PERIOD_UNITS.has(unit)) {
    dosage.timing = { repeat: { period: value, periodUnit: unit as 's' } };
  }
  const sig = textOf(sa.text);
  if (sig) dosage.text = sig;
  return Object.keys(dosage).length ? dosage : undefined;
}

/** PQ → Quantity; unit "1" (dimensionless, the CDA default) is kept as UCUM "1". */
export function quantity(pq: unknown): Quantity | undefined {
  const value = Number(attr(pq, 'value'));
  if (!attr(pq, 'value') || !Number.isFinite(value)) return undefined;
  const unit = attr(pq, 'unit');
  const q: Quantity = { value };
  if (unit) Object.assign(q, { unit, system: UCUM, code: unit });
  return q;
}

