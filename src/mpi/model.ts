// Fellegi–Sunter model: training (u from random pairs, m by EM on blocked pairs) and pair scoring.
import { candidatePairs, MAX_BLOCK_SIZE } from './blocking.ts';
import { compareRecords, FIELD_LEVELS, FIELDS, NULL_LEVEL, type Comparison, type FieldName } from './compare.ts';
import { fitEm, fitPrior, levelIndex, toPatterns, type LevelProbs } from './em.ts';
import type { MpiRecord } from './normalize.ts';
import { prepare, type PreparedRecord } from './prepare.ts';
import { randInt, seededRng } from './random.ts';
import { countTerms, termFrequency, tfValue, type TermFrequencies, type TfField } from './term-frequency.ts';

export interface LevelParams {
  level: string;
  /** P(level | same person). */
  m: number;
  /** P(level | different people). */
  u: number;
}

/** A trained, serialisable model. Weights are log2 Bayes factors; thresholds apply to the total weight. */
export interface MatchModel {
  version: number;
  trainedAt: string;
  records: number;
  /** Prior probability that a blocked candidate pair is a match (from EM). */
  prior: number;
  fields: Record<FieldName, LevelParams[]>;
  tf: TermFrequencies;
  thresholds: { upper: number; lower: number };
}

export interface TrainOptions {
  version?: number;
  seed?: number;
  /** Random pairs sampled to estimate u. */
  randomPairs?: number;
  /** Blocked pairs used by EM (a seeded sample when there are more). */
  maxEmPairs?: number;
  maxBlockSize?: number;
  thresholds?: { upper: number; lower: number };
  now?: Date;
}

export const DEFAULT_THRESHOLDS = { upper: 14, lower: 4 };
/** Bound on one field's weight so a single field can never dominate absurdly. */
const MAX_FIELD_WEIGHT = 16;

function countLevels(comparisons: Comparison[], alpha: number): LevelProbs {
  const patterns = toPatterns(comparisons);
  const out = {} as LevelProbs;
  FIELDS.forEach((f, i) => {
    const acc = new Array<number>(FIELD_LEVELS[f].length).fill(0);
    for (const p of patterns) if (p.levels[i] >= 0) acc[p.levels[i]] += p.count;
    const total = acc.reduce((s, v) => s + v, 0) + alpha * acc.length;
    out[f] = acc.map((v) => (v + alpha) / total);
  });
  return out;
}

function initialM(): LevelProbs {
  const out = {} as LevelProbs;
  for (const f of FIELDS) {
    const n = FIELD_LEVELS[f].length;
    // Agreement likely for matches, disagreement rare, partial levels in between.
    out[f] = FIELD_LEVELS[f].map((_, i) => (i === 0 ? 0.8 : i === n - 1 ? 0.05 : 0.15 / Math.max(1, n - 2)));
  }
  return out;
}

function sampleRandomComparisons(prepared: PreparedRecord[], count: number, seed: number): Comparison[] {
  const rng = seededRng(seed);
  const out: Comparison[] = [];
  const n = prepared.length;
  for (let k = 0; k < count && n > 1; k++) {
    const i = randInt(rng, n);
    const j = (i + 1 + randInt(rng, n - 1)) % n;
    out.push(compareRecords(prepared[i], prepared[j]));
  }
  return out;
}

function blockedComparisons(
  records: readonly MpiRecord[],
  prepared: PreparedRecord[],
  opts: TrainOptions,
  rules?: ReadonlySet<string>,
): Comparison[] {
  const pairs = candidatePairs(records, opts.maxBlockSize ?? MAX_BLOCK_SIZE, rules);
  const limit = opts.maxEmPairs ?? 2_000_000;
  const rng = seededRng((opts.seed ?? 1) + 1);
  // Partial Fisher–Yates: a uniform seeded sample when there are too many pairs.
  for (let k = 0; k < Math.min(limit, pairs.length); k++) {
    const r = k + randInt(rng, pairs.length - k);
    [pairs[k], pairs[r]] = [pairs[r], pairs[k]];
  }
  return pairs.slice(0, limit).map(([i, j]) => compareRecords(prepared[i], prepared[j]));
}

/**
 * EM is run twice, on pairs blocked by rules that do not involve the fields it estimates (as Splink does):
 * pairs sharing a phonetic name estimate m for birth date, identifiers and address; pairs sharing a birth
 * date or SSN estimate m for the names. Blocking on addresses would teach EM "same household", not "same person".
 */
const NAME_RULES: ReadonlySet<string> = new Set(['nm', 'nn']);
const DATE_RULES: ReadonlySet<string> = new Set(['d', 'ssn']);
const NAME_FIELDS: ReadonlySet<FieldName> = new Set(['given', 'family']);

function estimateM(records: readonly MpiRecord[], prepared: PreparedRecord[], u: LevelProbs, opts: TrainOptions): LevelProbs {
  const fit = (rules: ReadonlySet<string>) =>
    fitEm(toPatterns(blockedComparisons(records, prepared, opts, rules)), {
      initialM: initialM(),
      initialU: u,
      initialLambda: 0.1,
    }).m;
  const byName = fit(NAME_RULES);
  const byDate = fit(DATE_RULES);
  const m = {} as LevelProbs;
  for (const f of FIELDS) m[f] = NAME_FIELDS.has(f) ? byDate[f] : byName[f];
  return m;
}

/** Fits a model without labels: u from random pairs, m by EM on blocked candidate pairs, then the prior. */
export function train(records: readonly MpiRecord[], opts: TrainOptions = {}): MatchModel {
  const prepared = records.map(prepare);
  const seed = opts.seed ?? 1;
  const u = countLevels(sampleRandomComparisons(prepared, opts.randomPairs ?? 200_000, seed), 1);
  const m = estimateM(records, prepared, u, opts);
  const lambda = fitPrior(toPatterns(blockedComparisons(records, prepared, opts)), m, u);
  const fields = {} as Record<FieldName, LevelParams[]>;
  for (const f of FIELDS) {
    fields[f] = FIELD_LEVELS[f].map((level, i) => ({ level, m: m[f][i], u: u[f][i] }));
  }
  return {
    version: opts.version ?? 1,
    trainedAt: (opts.now ?? new Date()).toISOString(),
    records: records.length,
    prior: lambda,
    fields,
    tf: countTerms(prepared),
    thresholds: opts.thresholds ?? DEFAULT_THRESHOLDS,
  };
}

export interface ScoreResult {
  /** log2 posterior odds: prior + the sum of the field weights. */
  weight: number;
  probability: number;
  explanation: Array<{ field: string; level: string; weight: number }>;
}

const clamp = (w: number) => Math.max(-MAX_FIELD_WEIGHT, Math.min(MAX_FIELD_WEIGHT, w));

const TF_FIELDS: ReadonlySet<string> = new Set<TfField>(['given', 'family', 'birthDate']);

function tfWeight(model: MatchModel, field: TfField, a: PreparedRecord, b: PreparedRecord, params: LevelParams): number {
  const table = model.tf[field] ?? {};
  const fa = termFrequency(table, model.tf.total, tfValue(a, field)) ?? params.u;
  const fb = termFrequency(table, model.tf.total, tfValue(b, field)) ?? params.u;
  // Rare values may raise the weight by at most 3 bits over the average agreement.
  const tf = Math.max(fa, fb, params.u / 8);
  return clamp(Math.log2(params.m / tf));
}

function fieldWeight(model: MatchModel, field: FieldName, level: string, a: PreparedRecord, b: PreparedRecord): number {
  if (level === NULL_LEVEL) return 0;
  const params = model.fields[field][levelIndex(field, level)];
  if (!params) return 0;
  if (level === 'exact' && TF_FIELDS.has(field)) return tfWeight(model, field as TfField, a, b, params);
  return clamp(Math.log2(params.m / params.u));
}

/** Scores a prepared pair (for batch use; `score` prepares for you). */
export function scorePrepared(a: PreparedRecord, b: PreparedRecord, model: MatchModel): ScoreResult {
  const comparison = compareRecords(a, b);
  const priorWeight = Math.log2(model.prior / (1 - model.prior));
  const explanation = [{ field: 'prior', level: '', weight: priorWeight }];
  let weight = priorWeight;
  for (const field of FIELDS) {
    const w = fieldWeight(model, field, comparison[field], a, b);
    explanation.push({ field, level: comparison[field], weight: w });
    weight += w;
  }
  return { weight, probability: 1 / (1 + 2 ** -weight), explanation };
}

/** Match weight, probability and per-field explanation of two records. Symmetric in a and b. */
export function score(a: MpiRecord, b: MpiRecord, model: MatchModel): ScoreResult {
  return scorePrepared(prepare(a), prepare(b), model);
}
