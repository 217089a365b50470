import type { Hl7Segment } from '@medplum/core';
import type { Identifier, Observation } from '@medplum/fhirtypes';
import { fieldText, repAt, val } from '../fields.ts';
import type { Hl7Error } from '../types.ts';
import type { BundleBuilder, Ref } from './context.ts';
import { hl7ToFhirDateTime } from './datetime.ts';
import { codeableConcept } from './datatypes.ts';
import { isError, type PatientLink } from './common.ts';
import { interpretation, obxValue, observationStatus, referenceRange } from './obx-value.ts';
import { itemIdentifier, uniqueKeys } from './item-keys.ts';

export interface ObservationCtx {
  patient: PatientLink;
  encounter?: Ref;
  /** What the results belong to (the report's order and code, or the patient's visit); keys the Observations. */
  anchor?: Identifier;
  effective?: string;
}

export type Obx = { seg: Hl7Segment; seq: number };

/** What an OBX observes (OBX-3): its code, else its text; empty when OBX-3 is. */
export function obxCode(o: Obx): string {
  const code = codeableConcept(repAt(o.seg, 3, 0));
  return code?.coding?.[0]?.code ?? code?.text ?? '';
}

/**
 * Per OBX, what tells it apart among its group's results: OBX-3 code and the whole OBX-4 sub-ID, then OBX-1 (set ID)
 * where those repeat (a result or comment line given twice under one code).
 */
export function obxKeys(obx: Obx[]): string[] {
  const keys = obx.map((o) => `${obxCode(o)}|${fieldText(o.seg, 4).trim()}`);
  return uniqueKeys(keys, (i) => val(obx[i].seg, 1) || String(obx[i].seq));
}

/** The text of a narrative's lines (TX/FT), one per line. */
function narrativeValue(lines: Obx[]): { valueString: string } | undefined {
  const text = lines.map((l) => fieldText(l.seg, 5).trim()).join('\n').trim();
  return text ? { valueString: text } : undefined;
}

/**
 * One OBX → Observation, upserted on `anchor` + `itemKey` (from `obxKeys`). `continued`: the further lines of a
 * narrative `o` begins, whose text joins its own.
 */
export function addObservation(b: BundleBuilder, groupKey: string, o: Obx, ctx: ObservationCtx, itemKey: string, continued: Obx[] = []): Ref | Hl7Error | undefined {
  const value = continued.length ? narrativeValue([o, ...continued]) : obxValue(o.seg, o.seq, b.options.timeZone);
  if (isError(value)) return value;
  const code = codeableConcept(repAt(o.seg, 3, 0)) ?? { text: 'unknown' };
  const identifier = itemIdentifier(ctx.anchor, 'obx', itemKey);
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
