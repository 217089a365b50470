// Batch linking over an in-memory set: block, score, decide, cluster auto-links.
import { candidatePairs, MAX_BLOCK_SIZE } from './blocking.ts';
import { clusterLinks } from './cluster.ts';
import { decidePrepared, type DecisionReason } from './decide.ts';
import type { MatchModel } from './model.ts';
import { scorePrepared } from './model.ts';
import type { MpiRecord } from './normalize.ts';
import { prepare } from './prepare.ts';

export interface BatchLinkResult {
  /** Cluster id (smallest member index) per record. */
  clusters: number[];
  candidatePairs: number;
  autoLinks: Array<[number, number]>;
  reviews: Array<[number, number]>;
  /** How many candidate pairs each decision reason produced. */
  reasons: Partial<Record<DecisionReason, number>>;
}

export function linkBatch(records: readonly MpiRecord[], model: MatchModel, maxBlockSize = MAX_BLOCK_SIZE): BatchLinkResult {
  const prepared = records.map(prepare);
  const pairs = candidatePairs(records, maxBlockSize);
  const autoLinks: Array<[number, number]> = [];
  const reviews: Array<[number, number]> = [];
  const reasons: Partial<Record<DecisionReason, number>> = {};
  for (const [i, j] of pairs) {
    const result = scorePrepared(prepared[i], prepared[j], model);
    const { decision, reason } = decidePrepared(prepared[i], prepared[j], result, model);
    reasons[reason] = (reasons[reason] ?? 0) + 1;
    if (decision === 'auto-link') autoLinks.push([i, j]);
    else if (decision === 'review') reviews.push([i, j]);
  }
  return { clusters: clusterLinks(records.length, autoLinks), candidatePairs: pairs.length, autoLinks, reviews, reasons };
}
