// In-memory linking with the incremental link store's semantics: records are taken in order and each joins the
// person of its auto-link candidates among the earlier records (`chooseLink`), so a batch run makes the same
// decisions the write path would have made in that order, without a database round trip per record.
import { blockKeys, MAX_BLOCK_SIZE, MAX_CANDIDATES } from './blocking.ts';
import { decidePrepared } from './decide.ts';
import { chooseLink, type Candidate } from './link-choice.ts';
import type { MatchModel, ScoreResult } from './model.ts';
import { scorePrepared } from './model.ts';
import type { MpiRecord } from './normalize.ts';
import { prepare } from './prepare.ts';

export interface OrderedLinkOptions {
  /** Person of a record that must not move (steward-confirmed, level4), by record index. */
  fixed?: ReadonlyMap<number, string>;
  /** Pairs a steward marked not-link, as `lowerIndex:higherIndex`. */
  notLinks?: ReadonlySet<string>;
  /** New person ids (deterministic in tests). */
  newPersonId: () => string;
  maxBlockSize?: number;
  maxCandidates?: number;
}

export interface OrderedLinkResult {
  /** Person id per record. */
  persons: string[];
  /** The auto-link score that placed a record, when one did. */
  linkedBy: Array<ScoreResult | undefined>;
  /** Review pairs (later record index, earlier record index) with the reason. */
  tasks: Array<{ a: number; b: number; result: ScoreResult; reason: string }>;
  candidatePairs: number;
}

export const pairKey = (i: number, j: number) => (i < j ? `${i}:${j}` : `${j}:${i}`);

/**
 * Earlier records sharing a block key of record `i` (blocks over the cap are skipped, as in batch blocking), the
 * `limit` sharing the most keys first, ties broken by record id as the store's candidate query breaks them.
 */
function earlierCandidates(records: readonly MpiRecord[], index: Map<string, number[]>, keys: string[], cap: number, limit: number): number[] {
  const shared = new Map<number, number>();
  for (const key of keys) {
    const members = index.get(key);
    if (members && members.length < cap) for (const m of members) shared.set(m, (shared.get(m) ?? 0) + 1);
  }
  const all = [...shared.keys()];
  if (all.length <= limit) return all;
  const byId = (a: number, b: number) => (records[a].id < records[b].id ? -1 : records[a].id > records[b].id ? 1 : 0);
  return all.sort((a, b) => shared.get(b)! - shared.get(a)! || byId(a, b)).slice(0, limit);
}

function scoreEarlier(records: readonly MpiRecord[], i: number, earlier: readonly number[], persons: string[], model: MatchModel, notLinks?: ReadonlySet<string>): Candidate[] {
  const mine = prepare(records[i]);
  const out: Candidate[] = [];
  for (const j of earlier) {
    if (notLinks?.has(pairKey(i, j))) continue;
    const other = prepare(records[j]);
    const result = scorePrepared(mine, other, model);
    out.push({ patientId: String(j), personId: persons[j], record: records[j], result, decision: decidePrepared(mine, other, result, model) });
  }
  return out;
}

export function linkInOrder(records: readonly MpiRecord[], model: MatchModel, opts: OrderedLinkOptions): OrderedLinkResult {
  const cap = opts.maxBlockSize ?? MAX_BLOCK_SIZE;
  const limit = opts.maxCandidates ?? MAX_CANDIDATES;
  const index = new Map<string, number[]>();
  const persons: string[] = [];
  const linkedBy: Array<ScoreResult | undefined> = [];
  const tasks: OrderedLinkResult['tasks'] = [];
  let candidatePairs = 0;
  records.forEach((record, i) => {
    const keys = blockKeys(record);
    const fixed = opts.fixed?.get(i);
    // A confirmed link stays as the steward decided it (the link store returns early for level4 too).
    const candidates = fixed ? [] : scoreEarlier(records, i, earlierCandidates(records, index, keys, cap, limit), persons, model, opts.notLinks);
    candidatePairs += candidates.length;
    const choice = chooseLink(candidates, undefined);
    persons[i] = fixed ?? choice.best?.personId ?? opts.newPersonId();
    linkedBy[i] = choice.best?.result;
    for (const t of choice.tasks) tasks.push({ a: i, b: Number(t.candidate.patientId), result: t.candidate.result, reason: t.reason });
    for (const key of keys) {
      const list = index.get(key);
      if (list) list.push(i);
      else index.set(key, [i]);
    }
  });
  return { persons, linkedBy, tasks, candidatePairs };
}
