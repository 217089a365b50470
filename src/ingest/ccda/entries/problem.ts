import type { CcdaAct, CcdaCode, CcdaObservation } from '@medplum/ccda';
import type { Condition } from '@medplum/fhirtypes';
import { arr, attr, concept, effective, effectiveKey, firstCode, isNegated, subjectObservations } from '../cda-values.ts';
import type { EntryContext } from '../context.ts';

const CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const VERIFICATION = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/condition-category';
const STATUS: Record<string, string> = { '55561003': 'active', '73425007': 'inactive', '413322009': 'resolved' };

export type ConditionCategory = 'problem-list-item' | 'encounter-diagnosis' | 'health-concern';

/** Problem Concern Act (4.3) or diagnosis act → one Condition per Problem Observation (4.4). Returns fullUrls. */
export function mapProblemAct(act: CcdaAct, category: ConditionCategory, ctx: EntryContext): string[] {
  const observations = subjectObservations(act, '2.16.840.1.113883.10.20.22.4.4');
  if (observations.length === 0) {
    ctx.skip('problem-act-without-observation');
    return [];
  }
  return observations.flatMap((obs) => mapProblemObservation(obs, act, category, ctx) ?? []);
}

export function mapProblemObservation(
  obs: CcdaObservation,
  act: CcdaAct | undefined,
  category: ConditionCategory,
  ctx: EntryContext,
): string | undefined {
  const code = concept(obs.value as CcdaCode);
  if (!code) {
    ctx.skip('problem-without-code');
    return undefined;
  }
  const onset = effective(obs.effectiveTime);
  const resource: Condition = {
    resourceType: 'Condition',
    verificationStatus: { coding: [{ system: VERIFICATION, code: isNegated(obs) ? 'refuted' : 'confirmed' }] },
    category: [{ coding: [{ system: CATEGORY, code: category }] }],
    code,
    subject: ctx.patient,
  };
  resource.clinicalStatus = { coding: [{ system: CLINICAL, code: clinicalStatus(obs, act) }] };
  const start = onset.dateTime ?? onset.period?.start;
  if (start) resource.onsetDateTime = start;
  if (onset.period?.end) resource.abatementDateTime = onset.period.end;
  const recorded = effective(act?.effectiveTime);
  const recordedAt = recorded.dateTime ?? recorded.period?.start;
  if (recordedAt) resource.recordedDate = recordedAt;
  return ctx.add(resource, obs.id ?? act?.id, ['Condition', firstCode(code), effectiveKey(onset)]);
}

function clinicalStatus(obs: CcdaObservation, act: CcdaAct | undefined): string {
  for (const rel of arr(obs.entryRelationship)) {
    for (const o of arr(rel.observation)) {
      const s = STATUS[attr(o.value, 'code') ?? ''];
      if (s) return s;
    }
  }
  if (arr(obs.effectiveTime)[0]?.high && attr(arr(obs.effectiveTime)[0]?.high, 'value')) return 'resolved';
  const actStatus = attr(act?.statusCode, 'code');
  return actStatus === 'completed' ? 'inactive' : 'active';
}
