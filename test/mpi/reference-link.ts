// The in-memory ordered pass as it was before it streamed, verbatim: every record kept, a Map of key strings to
// arrays. The oracle the streamed linker and the streamed bulkRelink are compared with.
import { blockKeys, MAX_BLOCK_SIZE, MAX_CANDIDATES } from '../../src/mpi/blocking.ts';
import { decidePrepared } from '../../src/mpi/decide.ts';
import { chooseLink, type Candidate } from '../../src/mpi/link-choice.ts';
import { scorePrepared, type MatchModel } from '../../src/mpi/model.ts';
import type { MpiRecord } from '../../src/mpi/normalize.ts';
import { pairKey, type OrderedLinkOptions, type OrderedLinkResult } from '../../src/mpi/ordered-link.ts';
import { prepare } from '../../src/mpi/prepare.ts';

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

export function referenceLinkInOrder(records: readonly MpiRecord[], model: MatchModel, opts: OrderedLinkOptions): OrderedLinkResult {
  const cap = opts.maxBlockSize ?? MAX_BLOCK_SIZE;
  const limit = opts.maxCandidates ?? MAX_CANDIDATES;
  const index = new Map<string, number[]>();
  const persons: string[] = [];
  const linkedBy: OrderedLinkResult['linkedBy'] = [];
  const tasks: OrderedLinkResult['tasks'] = [];
  let candidatePairs = 0;
  records.forEach((record, i) => {
    const keys = blockKeys(record);
    const fixed = opts.fixed?.get(i);
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

