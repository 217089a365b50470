// Expectation-maximisation for the two-class (match / non-match) Fellegi–Sunter mixture.
// Runs over distinct comparison patterns with their counts, so millions of pairs cost little.
import { FIELD_LEVELS, FIELDS, NULL_LEVEL, type Comparison, type FieldName } from './compare.ts';

export type LevelProbs = Record<FieldName, number[]>;

export interface Pattern {
  /** Level index per field in FIELDS order; -1 when the field is null. */
  levels: number[];
  count: number;
}

export interface EmResult {
  m: LevelProbs;
  u: LevelProbs;
  /** Share of the pairs that are matches. */
  lambda: number;
  iterations: number;
}

export function levelIndex(field: FieldName, level: string): number {
  return level === NULL_LEVEL ? -1 : (FIELD_LEVELS[field] as readonly string[]).indexOf(level);
}

/** Collapses comparison vectors into distinct patterns with counts. */
export function toPatterns(comparisons: Iterable<Comparison>): Pattern[] {
  const byKey = new Map<string, Pattern>();
  for (const c of comparisons) {
    const levels = FIELDS.map((f) => levelIndex(f, c[f]));
    const key = levels.join(',');
    const hit = byKey.get(key);
    if (hit) hit.count++;
    else byKey.set(key, { levels, count: 1 });
  }
  return [...byKey.values()];
}

function emptyProbs(): LevelProbs {
  const out = {} as LevelProbs;
  for (const f of FIELDS) out[f] = new Array<number>(FIELD_LEVELS[f].length).fill(0);
  return out;
}

/** Normalises accumulated counts with additive smoothing `alpha` so no level gets probability 0. */
function normalise(acc: LevelProbs, alpha: number): LevelProbs {
  const out = emptyProbs();
  for (const f of FIELDS) {
    const total = acc[f].reduce((s, v) => s + v, 0) + alpha * acc[f].length;
    out[f] = acc[f].map((v) => (v + alpha) / total);
  }
  return out;
}

/** Posterior match probability of one pattern under the current parameters. */
export function posterior(levels: number[], m: LevelProbs, u: LevelProbs, lambda: number): number {
  let logRatio = Math.log(lambda) - Math.log(1 - lambda);
  FIELDS.forEach((f, i) => {
    const l = levels[i];
    if (l >= 0) logRatio += Math.log(m[f][l]) - Math.log(u[f][l]);
  });
  return 1 / (1 + Math.exp(-logRatio));
}

export interface EmOptions {
  initialM: LevelProbs;
  initialU: LevelProbs;
  initialLambda?: number;
  maxIterations?: number;
  tolerance?: number;
  alpha?: number;
}

/** Fits m, u and lambda by EM from the given starting point. */
export function fitEm(patterns: Pattern[], opts: EmOptions): EmResult {
  let { initialM: m, initialU: u } = opts;
  let lambda = opts.initialLambda ?? 0.1;
  const maxIterations = opts.maxIterations ?? 50;
  const alpha = opts.alpha ?? 0.5;
  const total = patterns.reduce((s, p) => s + p.count, 0);
  let iterations = 0;
  while (iterations < maxIterations && total > 0) {
    iterations++;
    const mAcc = emptyProbs();
    const uAcc = emptyProbs();
    let matches = 0;
    for (const p of patterns) {
      const post = posterior(p.levels, m, u, lambda);
      matches += post * p.count;
      FIELDS.forEach((f, i) => {
        const l = p.levels[i];
        if (l < 0) return;
        mAcc[f][l] += post * p.count;
        uAcc[f][l] += (1 - post) * p.count;
      });
    }
    const nextLambda = Math.min(0.999, Math.max(1e-6, matches / total));
    const delta = Math.abs(nextLambda - lambda);
    [m, u, lambda] = [normalise(mAcc, alpha), normalise(uAcc, alpha), nextLambda];
    if (delta < (opts.tolerance ?? 1e-6)) break;
  }
  return { m, u, lambda, iterations };
}

/** Fits only the prior (share of matches) with m and u held fixed. */
export function fitPrior(patterns: Pattern[], m: LevelProbs, u: LevelProbs, iterations = 30): number {
  const total = patterns.reduce((s, p) => s + p.count, 0);
  let lambda = 0.1;
  for (let k = 0; k < iterations && total > 0; k++) {
    let matches = 0;
    for (const p of patterns) matches += posterior(p.levels, m, u, lambda) * p.count;
    lambda = Math.min(0.999, Math.max(1e-6, matches / total));
  }
  return lambda;
}
