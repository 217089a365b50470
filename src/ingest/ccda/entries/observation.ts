import type { CcdaCode, CcdaObservation, CcdaOrganizer } from '@medplum/ccda';
import type { CodeableConcept, Observation, ObservationReferenceRange } from '@medplum/fhirtypes';
import { arr, attr, concept, effective, effectiveKey, firstCode, textOf, xsiType, type Effective } from '../cda-values.ts';
import type { EntryContext } from '../context.ts';
import { quantity } from './medication.ts';

export type ObservationCategory = 'laboratory' | 'vital-signs' | 'social-history';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const STATUS: Record<string, Observation['status']> = {
  completed: 'final',
  active: 'preliminary',
  aborted: 'cancelled',
  cancelled: 'cancelled',
  nullified: 'entered-in-error',
};

/** Result or vital-signs organizer: each component observation becomes its own Observation. */
export function mapOrganizer(org: CcdaOrganizer, category: ObservationCategory, ctx: EntryContext): void {
  const fallback = effective(org.effectiveTime);
  const members = arr(org.component).flatMap((c) => arr(c.observation));
  if (members.length === 0) return ctx.skip('organizer-without-observations');
  for (const obs of members) mapObservation(obs, category, ctx, fallback);
}

/** Result, vital sign or social-history observation → Observation (value types PQ, IVL_PQ, CD, ST, INT, REAL, BL, TS, CO). */
export function mapObservation(obs: CcdaObservation, category: ObservationCategory, ctx: EntryContext, fallback: Effective = {}): void {
  const code = concept(obs.code);
  if (!code) return ctx.skip('observation-without-code');
  const own = effective(obs.effectiveTime);
  const when = own.dateTime || own.period ? own : fallback;
  const resource: Observation = {
    resourceType: 'Observation',
    status: STATUS[attr(obs.statusCode, 'code') ?? ''] ?? 'final',
    category: [{ coding: [{ system: CATEGORY, code: category }] }],
    code,
    subject: ctx.patient,
  };
  if (when.dateTime) resource.effectiveDateTime = when.dateTime;
  if (when.period) resource.effectivePeriod = when.period;
  Object.assign(resource, valueOf(obs.value));
  const interpretation = arr((obs as { interpretationCode?: CcdaCode | CcdaCode[] }).interpretationCode)
    .map((c) => concept(c))
    .filter((c): c is CodeableConcept => !!c);
  if (interpretation.length) resource.interpretation = interpretation;
  const ranges = arr(obs.referenceRange).map((r) => rangeOf(r.observationRange)).filter((r): r is ObservationReferenceRange => !!r);
  if (ranges.length) resource.referenceRange = ranges;
  ctx.add(resource, obs.id, ['Observation', firstCode(code), effectiveKey(when), JSON.stringify(obs.value ?? '')]);
}

type ValueX = Pick<Observation, 'valueQuantity' | 'valueCodeableConcept' | 'valueString' | 'valueInteger' | 'valueBoolean' | 'valueDateTime' | 'valueRange'>;

function valueOf(value: unknown): ValueX {
  const v = arr(value as object | object[])[0];
  if (!v) return {};
  switch (xsiType(v)) {
    case 'PQ':
    case 'REAL':
    case 'CO': {
      const q = quantity(v);
      return q ? { valueQuantity: q } : {};
    }
    case 'IVL_PQ':
      return intervalValue(v);
    case 'CD':
    case 'CE':
    case 'CV':
    case 'CWE': {
      const c = concept(v as CcdaCode);
      return c ? { valueCodeableConcept: c } : {};
    }
    case 'INT': {
      const n = Number(attr(v, 'value'));
      return Number.isInteger(n) ? { valueInteger: n } : {};
    }
    case 'BL':
      return attr(v, 'value') ? { valueBoolean: attr(v, 'value') === 'true' } : {};
    case 'TS': {
      const d = effective({ '@_value': attr(v, 'value') }).dateTime;
      return d ? { valueDateTime: d } : {};
    }
    default: {
      const s = textOf(v);
      return s ? { valueString: s } : {};
    }
  }
}

/** IVL_PQ with one bound is a comparator value (`>10`, `<0.01`); with two it is a range. */
function intervalValue(v: object): ValueX {
  const low = quantity((v as { low?: unknown }).low);
  const high = quantity((v as { high?: unknown }).high);
  if (low && high) return { valueRange: { low, high } };
  if (low) {
    const inclusive = attr((v as { low?: unknown }).low, 'inclusive') !== 'false';
    return { valueQuantity: { ...low, comparator: inclusive ? '>=' : '>' } };
  }
  if (high) {
    const inclusive = attr((v as { high?: unknown }).high, 'inclusive') !== 'false';
    return { valueQuantity: { ...high, comparator: inclusive ? '<=' : '<' } };
  }
  return {};
}

function rangeOf(range: { text?: unknown; value?: unknown } | undefined): ObservationReferenceRange | undefined {
  if (!range) return undefined;
  const out: ObservationReferenceRange = {};
  const v = range.value as { low?: unknown; high?: unknown } | undefined;
  const low = quantity(v?.low);
  const high = quantity(v?.high);
  if (low) out.low = low;
  if (high) out.high = high;
  const text = textOf(range.text);
  if (text) out.text = text;
  return Object.keys(out).length ? out : undefined;
}
