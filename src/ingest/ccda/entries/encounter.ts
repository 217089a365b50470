import type { CcdaEncounter } from '@medplum/ccda';
import type { Coding, Encounter } from '@medplum/fhirtypes';
import { arr, attr, concept, effective, effectiveKey, firstCode } from '../cda-values.ts';
import type { EntryContext } from '../context.ts';
import { mapProblemObservation } from './problem.ts';

const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const AMBULATORY: Coding = { system: ACT_CODE, code: 'AMB', display: 'ambulatory' };
const CLASSES = new Set(['AMB', 'EMER', 'FLD', 'HH', 'IMP', 'ACUTE', 'NONAC', 'OBSENC', 'PRENC', 'SS', 'VR']);

/**
 * Encounter Activity (4.49) → Encounter; its Encounter Diagnosis acts (4.80) become Conditions
 * (category encounter-diagnosis) referenced from Encounter.diagnosis.
 */
export function mapEncounter(enc: CcdaEncounter, ctx: EntryContext): string {
  const type = concept(enc.code);
  const when = effective(enc.effectiveTime);
  const resource: Encounter = {
    resourceType: 'Encounter',
    status: encounterStatus(enc, when.period?.end),
    class: classOf(enc),
    subject: ctx.patient,
  };
  if (type) resource.type = [type];
  if (when.period) resource.period = when.period;
  else if (when.dateTime) resource.period = { start: when.dateTime };
  const diagnoses = arr(enc.entryRelationship).flatMap((rel) =>
    arr(rel.act).flatMap((act) => arr(act.entryRelationship).flatMap((r) => arr(r.observation)))
      .concat(arr(rel.observation).filter((o) => attr(o.value, 'code')))
      .map((obs) => mapProblemObservation(obs, undefined, 'encounter-diagnosis', ctx))
      .filter((u): u is string => !!u),
  );
  if (diagnoses.length) resource.diagnosis = [...new Set(diagnoses)].map((reference) => ({ condition: { reference } }));
  return ctx.add(resource, enc.id, ['Encounter', firstCode(type), effectiveKey(when)]);
}

/** R4 requires class; CDA puts an ActCode class in code or a translation, otherwise ambulatory. */
function classOf(enc: CcdaEncounter): Coding {
  const candidates = [enc.code, ...arr(enc.code?.translation)];
  const hit = candidates.find((c) => attr(c, 'codeSystem') === '2.16.840.1.113883.5.4' && CLASSES.has(attr(c, 'code') ?? ''));
  return hit ? { system: ACT_CODE, code: attr(hit, 'code') as string } : AMBULATORY;
}

function encounterStatus(enc: CcdaEncounter, end: string | undefined): Encounter['status'] {
  const s = attr(enc.statusCode, 'code');
  if (s === 'active') return 'in-progress';
  if (s === 'cancelled' || s === 'aborted') return 'cancelled';
  if (s === 'completed' || end) return 'finished';
  return 'unknown';
}
