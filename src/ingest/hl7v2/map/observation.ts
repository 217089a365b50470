import type { Hl7Segment } from '@medplum/core';
import type { Identifier, Observation } from '@medplum/fhirtypes';
import { repAt, val } from '../fields.ts';
import type { Hl7Error } from '../types.ts';
import type { BundleBuilder, Ref } from './context.ts';
import { hl7ToFhirDateTime } from './datetime.ts';
import { codeableConcept } from './datatypes.ts';
import { isError, type PatientLink } from './common.ts';
import { interpretation, obxValue, observationStatus, referenceRange } from './obx-value.ts';

export interface GroupCtx {
  patient: PatientLink;
  encounter?: Ref;
  ids: Identifier[];
  effective?: string;
}

export function addObservation(b: BundleBuilder, groupKey: string, o: { seg: Hl7Segment; seq: number }, ctx: GroupCtx): Ref | Hl7Error | undefined {
  const value = obxValue(o.seg, o.seq, b.options.timeZone);
  if (isError(value)) return value;
  const code = codeableConcept(repAt(o.seg, 3, 0)) ?? { text: 'unknown' };
  const codeKey = code.coding?.[0]?.code ?? code.text ?? '';
  const anchor = ctx.ids[0];
  const identifier: Identifier | undefined = anchor ? { system: `${anchor.system}:obx`, value: `${anchor.value}|${codeKey}|${val(o.seg, 4)}` } : undefined;
  const obs: Observation = {
    resourceType: 'Observation',
    status: observationStatus(val(o.seg, 11)),
    code,
    subject: ctx.patient.ref,
    ...(identifier ? { identifier: [identifier] } : {}),
    ...(value ?? {}),
  };
  if (ctx.encounter) obs.encounter = ctx.encounter;
  const effective = hl7ToFhirDateTime(val(o.seg, 14), b.options.timeZone) ?? ctx.effective;
  if (effective) obs.effectiveDateTime = effective;
  const range = referenceRange(o.seg);
  if (range) obs.referenceRange = range;
  const interp = interpretation(o.seg);
  if (interp) obs.interpretation = interp;
  if (!value) obs.dataAbsentReason = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown' }] };
  return b.put(`observation:${groupKey}:${o.seq}`, obs, identifier);
}

/** OBX list → Observations; stops at the first wrongly typed value (AE 102). */
export function addObservations(b: BundleBuilder, groupKey: string, obx: { seg: Hl7Segment; seq: number }[], ctx: GroupCtx): Hl7Error | undefined {
  for (const o of obx) {
    const ref = addObservation(b, groupKey, o, ctx);
    if (isError(ref)) return ref;
  }
  return undefined;
}
