import type { CcdaSubstanceAdministration } from '@medplum/ccda';
import type { Immunization } from '@medplum/fhirtypes';
import { arr, attr, concept, effective, effectiveKey, firstCode, isNegated, textOf } from '../cda-values.ts';
import type { EntryContext } from '../context.ts';
import { productCode, quantity } from './medication.ts';

/** Immunization Activity (4.52) → Immunization; negationInd → status not-done with the refusal reason. */
export function mapImmunization(sa: CcdaSubstanceAdministration, ctx: EntryContext): void {
  const vaccine = productCode(sa);
  if (!vaccine) return ctx.skip('immunization-without-code');
  const when = effective(sa.effectiveTime);
  const at = when.dateTime ?? when.period?.start;
  const resource: Immunization = {
    resourceType: 'Immunization',
    status: isNegated(sa) ? 'not-done' : attr(sa.statusCode, 'code') === 'nullified' ? 'entered-in-error' : 'completed',
    vaccineCode: vaccine,
    patient: ctx.patient,
    // occurrence[x] is required in R4; CDA allows an unknown time.
    ...(at ? { occurrenceDateTime: at } : { occurrenceString: 'unknown' }),
  };
  const material = arr(arr(sa.consumable?.manufacturedProduct)[0]?.manufacturedMaterial)[0];
  const lot = textOf(arr(material?.lotNumberText)[0]);
  if (lot) resource.lotNumber = lot;
  const route = concept(sa.routeCode);
  if (route) resource.route = route;
  const dose = quantity(sa.doseQuantity);
  if (dose) resource.doseQuantity = dose;
  const reason = refusalReason(sa);
  if (resource.status === 'not-done' && reason) resource.statusReason = reason;
  ctx.add(resource, sa.id, ['Immunization', firstCode(vaccine), effectiveKey(when)]);
}

function refusalReason(sa: CcdaSubstanceAdministration) {
  for (const rel of arr(sa.entryRelationship).filter((r) => attr(r, 'typeCode') === 'RSON')) {
    for (const o of [...arr(rel.observation), ...arr(rel.act)]) {
      const c = concept(o.code);
      if (c) return c;
    }
  }
  return undefined;
}
