import type { Hl7Segment } from '@medplum/core';
import type { Attachment, DiagnosticReport, DocumentReference, Identifier } from '@medplum/fhirtypes';
import { repAt, val } from '../fields.ts';
import type { Hl7Error } from '../types.ts';
import type { BundleBuilder, Ref } from './context.ts';
import { hl7ToFhirDateTime } from './datetime.ts';
import { codeableConcept, identifierSystem } from './datatypes.ts';
import { addPatient, addPractitioner, isError, type PatientLink } from './common.ts';
import { addVisitReference } from './encounter.ts';
import { addObservation, obxCode, obxKeys, type Obx, type ObservationCtx } from './observation.ts';
import { itemIdentifier, uniqueItems } from './item-keys.ts';
import { edAttachment, obxValue, TEXT_TYPES } from './obx-value.ts';
import { textAttachment } from './text.ts';

/** One OBR with the ORC before it and the OBX/SPM segments after it. */
export interface OrderGroup {
  orc?: Hl7Segment;
  obr: Hl7Segment;
  obx: { seg: Hl7Segment; seq: number }[];
  spm?: Hl7Segment;
  index: number;
}

/** Walks the segments in order, grouping OBX/SPM under the OBR they follow. */
export function orderGroups(segments: Hl7Segment[]): OrderGroup[] {
  const groups: OrderGroup[] = [];
  let orc: Hl7Segment | undefined;
  let obxSeq = 0;
  for (const seg of segments) {
    if (seg.name === 'ORC') orc = seg;
    else if (seg.name === 'OBR') groups.push({ orc, obr: seg, obx: [], index: groups.length });
    else if (seg.name === 'OBX') {
      obxSeq += 1;
      groups.at(-1)?.obx.push({ seg, seq: obxSeq });
    } else if (seg.name === 'SPM' && groups.length) groups[groups.length - 1].spm ??= seg;
  }
  return groups;
}

/** EI (entity id ^ namespace ^ universal id ^ type) → Identifier typed PLAC/FILL. */
export function orderIdentifier(seg: Hl7Segment | undefined, field: number, type: 'PLAC' | 'FILL', facility: string): Identifier | undefined {
  if (!seg || !val(seg, field)) return undefined;
  const c = repAt(seg, field, 0);
  return {
    system: identifierSystem(c(2), c(3), c(4), facility),
    value: c(1),
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: type }] },
  };
}

/** Filler (OBR-3, ORC-3) first: the filler's number is the result's identity; placer (OBR-2, ORC-2) otherwise. */
export function groupIdentifiers(g: { obr?: Hl7Segment; orc?: Hl7Segment }, facility: string): Identifier[] {
  const filler = orderIdentifier(g.obr, 3, 'FILL', facility) ?? orderIdentifier(g.orc, 3, 'FILL', facility);
  const placer = orderIdentifier(g.obr, 2, 'PLAC', facility) ?? orderIdentifier(g.orc, 2, 'PLAC', facility);
  return [filler, placer].filter((x): x is Identifier => !!x);
}

/**
 * Per order group, what tells it apart under its order number (`anchors`): the OBR-4 code, plus OBR-1 (set ID) where
 * one message repeats both — several OBRs (panels) commonly share one filler or placer number.
 */
export function orderItems(groups: OrderGroup[], anchors: (Identifier | undefined)[]): string[] {
  const codes = groups.map((g) => {
    const code = codeableConcept(repAt(g.obr, 4, 0));
    return code?.coding?.[0]?.code ?? code?.text ?? '';
  });
  return uniqueItems(anchors, codes, (i) => val(groups[i].obr, 1) || String(i + 1));
}

interface GroupCtx extends ObservationCtx {
  /** Filler and placer numbers, carried on the report and document. */
  ids: Identifier[];
  /** The report's and document's own key: order number + `orderItems`. */
  key?: Identifier;
}

/** The entry key of the report of the `groupIndex`th OBR (0-based): how the pipeline tells which OBR a report is. */
export const reportEntryKey = (groupIndex: number) => `report:${groupIndex}`;

const REPORT_STATUS: Record<string, DiagnosticReport['status']> = {
  F: 'final', C: 'corrected', P: 'preliminary', X: 'cancelled', R: 'partial', A: 'partial', I: 'registered', O: 'registered', S: 'registered', Y: 'final', Z: 'final',
};

function reportText(g: OrderGroup): string | undefined {
  const text = g.obx.filter((o) => TEXT_TYPES.has(val(o.seg, 2))).map((o) => obxValue(o.seg, o.seq)).map((v) => (v && !isError(v) ? v.valueString ?? '' : ''));
  return text.length ? text.join('\n') : undefined;
}

const NARRATIVE_LINE = new Set(['TX', 'FT']);

/**
 * The group's OBX as results: a narrative sent a line per OBX (consecutive TX/FT under one OBX-3, continuation lines
 * often without one: a report's or a comment's text) is one result, not an Observation per line.
 */
function resultRuns(obx: Obx[]): Obx[][] {
  const runs: Obx[][] = [];
  const narrative = (o: Obx) => NARRATIVE_LINE.has(val(o.seg, 2));
  for (const o of obx) {
    const run = runs.at(-1);
    const code = obxCode(o);
    if (run && narrative(run.at(-1)!) && narrative(o) && (code === '' || code === obxCode(run[0]))) run.push(o);
    else runs.push([o]);
  }
  return runs;
}

/** A group whose results are all narrative (radiology, pathology, transcription) or embedded documents. */
function isDocumentGroup(g: OrderGroup): boolean {
  return g.obx.length > 0 && g.obx.every((o) => TEXT_TYPES.has(val(o.seg, 2)) || val(o.seg, 2) === 'ED') && g.obx.some((o) => val(o.seg, 2) !== 'ST');
}

function addDocumentReference(b: BundleBuilder, g: OrderGroup, ctx: GroupCtx, report: DiagnosticReport, forms: Attachment[]): void {
  const doc: DocumentReference = {
    resourceType: 'DocumentReference',
    status: report.status === 'cancelled' ? 'entered-in-error' : 'current',
    docStatus: report.status === 'preliminary' ? 'preliminary' : report.status === 'corrected' ? 'amended' : 'final',
    type: report.code,
    subject: ctx.patient.ref,
    ...(ctx.ids.length ? { identifier: identifiers(ctx) } : {}),
    ...(ctx.effective && ctx.effective.length > 10 ? { date: ctx.effective } : {}),
    content: forms.map((attachment) => ({ attachment })),
    ...(ctx.encounter ? { context: { encounter: [ctx.encounter] } } : {}),
  };
  b.put(`document:${g.index}`, doc, ctx.key);
}

function identifiers(ctx: GroupCtx): Identifier[] {
  return ctx.key ? [...ctx.ids, ctx.key] : ctx.ids;
}

function mapGroup(b: BundleBuilder, g: OrderGroup, item: string, patient: PatientLink, encounter?: Ref): Hl7Error | undefined {
  const tz = b.options.timeZone;
  const ids = groupIdentifiers(g, b.header.facilityKey);
  const ctx: GroupCtx = {
    patient, encounter, ids,
    key: itemIdentifier(ids[0], 'report', item),
    anchor: ids[0] && { system: ids[0].system, value: `${ids[0].value}|${item}` },
    effective: (g.spm ? hl7ToFhirDateTime(val(g.spm, 17), tz) : undefined) ?? hl7ToFhirDateTime(val(g.obr, 7), tz),
  };
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    status: REPORT_STATUS[val(g.obr, 25)] ?? 'final',
    code: codeableConcept(repAt(g.obr, 4, 0)) ?? { text: 'unknown' },
    subject: patient.ref,
    ...(ctx.ids.length ? { identifier: identifiers(ctx) } : {}),
    ...(ctx.effective ? { effectiveDateTime: ctx.effective } : {}),
  };
  const issued = hl7ToFhirDateTime(val(g.obr, 22), tz);
  if (issued && issued.length > 10) report.issued = issued;
  if (encounter) report.encounter = encounter;
  const performer = addPractitioner(b, g.obr, 32);
  if (performer) report.resultsInterpreter = [performer];
  const forms = g.obx.filter((o) => val(o.seg, 2) === 'ED').map((o) => edAttachment(o.seg)).filter((a) => a !== undefined);
  if (isDocumentGroup(g)) {
    const text = reportText(g);
    if (text) forms.unshift(textAttachment(text));
  } else {
    const results: Ref[] = [];
    const runs = resultRuns(g.obx.filter((x) => val(x.seg, 2) !== 'ED'));
    const keys = obxKeys(runs.map((r) => r[0]));
    for (const [i, [first, ...continued]] of runs.entries()) {
      const ref = addObservation(b, String(g.index), first, ctx, keys[i], continued);
      if (isError(ref)) return ref;
      if (ref) results.push(ref);
    }
    if (results.length) report.result = results;
  }
  if (forms.length) report.presentedForm = forms;
  b.put(reportEntryKey(g.index), report, ctx.key);
  if (forms.length) addDocumentReference(b, g, ctx, report, forms);
  return undefined;
}

/** ORU^R01 → DiagnosticReport per OBR, Observations per OBX, DocumentReference for narrative reports. */
export function mapOru(b: BundleBuilder, org: Ref): Hl7Error | undefined {
  const msg = b.parsed.message;
  const patient = addPatient(b, msg.getSegment('PID'), org);
  if (isError(patient)) return patient;
  const encounter = addVisitReference(b, patient, org);
  const groups = orderGroups(msg.segments);
  const items = orderItems(groups, groups.map((g) => groupIdentifiers(g, b.header.facilityKey)[0]));
  for (const [i, g] of groups.entries()) {
    const err = mapGroup(b, g, items[i], patient, encounter);
    if (err) return err;
  }
  return undefined;
}
