import type { Queryable } from '../store/database.ts';
import { GENESIS_HASH } from './canonical.ts';
import { checkpointSignatureValid, listCheckpoints, type Checkpoint, type CheckpointKey } from './checkpoint.ts';
import { AUDIT_COLUMNS, hashEntry, placeOf, positionOf, rowFacts, type AuditRow } from './entry.ts';

export type TamperProblem = 'changed' | 'removed' | 'reordered' | 'checkpoint-mismatch' | 'truncated';

export type VerifyResult =
  | { ok: true; count: number; checkpoints: number; signaturesChecked: boolean; chains: number }
  | { ok: false; firstBadSeq: number; problem: TamperProblem; chain: number };

export interface VerifyOptions {
  /** The checkpoint key; without it checkpoint hashes are compared but signatures are not checked. */
  key?: CheckpointKey;
  /**
   * Checkpoints kept outside the database (`readCheckpointLog`): checked with those in `audit_checkpoints`, so deleting
   * checkpoint rows together with the tail they cover does not hide a truncation.
   */
  externalCheckpoints?: Checkpoint[];
  batchSize?: number;
}

type Failure = { firstBadSeq: number; problem: TamperProblem };

const WINDOW = 64;
const POSITION = 'coalesce(chain_seq, seq)';

const selfConsistent = (row: AuditRow, place = placeOf(row), prev = row.prev_hash, hash = row.hash) =>
  hashEntry(place, prev, rowFacts(row)) === hash;

const normalise = (r: AuditRow): AuditRow => ({ ...r, seq: Number(r.seq), chain: Number(r.chain), chain_seq: r.chain_seq === null ? null : Number(r.chain_seq) });

/** Decides what happened at a broken link: content moved from another position, or changed in place. */
async function classify(db: Queryable, bad: AuditRow, before: AuditRow | undefined): Promise<Failure> {
  const at = positionOf(bad);
  const window = (await db.query<AuditRow>(
    `select ${AUDIT_COLUMNS} from audit_log where chain = $1 and ${POSITION} between $2 and $3 order by ${POSITION}`,
    [bad.chain, at, at + WINDOW],
  )).rows.map(normalise);
  const facts = rowFacts(bad);
  const movedWhole = window.some((o) => o.seq !== bad.seq && hashEntry(placeOf(o), bad.prev_hash, facts) === bad.hash);
  const movedContent = window.some((o) => o.seq !== bad.seq && hashEntry(placeOf(o), o.prev_hash, facts) === o.hash);
  if (movedWhole || movedContent) return { firstBadSeq: at, problem: 'reordered' };
  // A self-consistent row whose link is broken means its predecessor was rewritten (hash recomputed).
  if (selfConsistent(bad) && before) return { firstBadSeq: positionOf(before), problem: 'changed' };
  return { firstBadSeq: at, problem: 'changed' };
}

interface Walk {
  count: number;
  last?: AuditRow;
  failure?: Failure;
}

/** Walks one chain in position order: every position present once, each linked to the one before and self-consistent. */
async function walk(db: Queryable, chain: number, batchSize: number): Promise<Walk> {
  let prev: AuditRow | undefined;
  let count = 0;
  for (;;) {
    const rows = (await db.query<AuditRow>(
      `select ${AUDIT_COLUMNS} from audit_log where chain = $1 and ${POSITION} > $2 order by ${POSITION} limit $3`,
      [chain, prev ? positionOf(prev) : 0, batchSize],
    )).rows;
    if (rows.length === 0) return { count, last: prev };
    for (const raw of rows) {
      const row = normalise(raw);
      const expected = (prev ? positionOf(prev) : 0) + 1;
      if (positionOf(row) !== expected) return { count, failure: { firstBadSeq: expected, problem: 'removed' } };
      const linked = row.prev_hash === (prev?.hash ?? GENESIS_HASH);
      if (!linked || !selfConsistent(row)) return { count, failure: await classify(db, row, prev) };
      prev = row;
      count += 1;
    }
  }
}

/** One chain against its published head and its signed checkpoints (which reveal truncation of the tail). */
async function verifyOne(db: Queryable, head: { id: number; seq: number; hash: string }, checkpoints: Checkpoint[], opts: VerifyOptions): Promise<Failure | number> {
  const result = await walk(db, head.id, opts.batchSize ?? 2000);
  if (result.failure) return result.failure;
  const lastPos = result.last ? positionOf(result.last) : 0;
  const hashAt = async (pos: number) =>
    (await db.query<{ hash: string }>(`select hash from audit_log where chain = $1 and ${POSITION} = $2`, [head.id, pos])).rows[0]?.hash;
  // The head is published at claims and checkpoints, so it may stand behind the tail; never beyond it.
  if (head.seq > lastPos) return { firstBadSeq: lastPos + 1, problem: 'truncated' };
  if (head.seq > 0 && (await hashAt(head.seq)) !== head.hash) return { firstBadSeq: head.seq, problem: 'changed' };
  for (const cp of checkpoints.filter((c) => c.chain === head.id)) {
    if (opts.key && !checkpointSignatureValid(cp, opts.key)) return { firstBadSeq: cp.seq, problem: 'checkpoint-mismatch' };
    if (cp.seq > lastPos) return { firstBadSeq: lastPos + 1, problem: 'truncated' };
    if (cp.seq > 0 && (await hashAt(cp.seq)) !== cp.hash) return { firstBadSeq: cp.seq, problem: 'checkpoint-mismatch' };
  }
  return result.count;
}

/** The database's checkpoints plus those only found outside it (the same signed checkpoint counted once). */
function mergeCheckpoints(stored: Checkpoint[], external: Checkpoint[]): Checkpoint[] {
  const key = (c: Checkpoint) => `${c.chain}|${c.seq}|${c.hash}|${c.createdAt}|${c.signature}`;
  const seen = new Set(stored.map(key));
  return [...stored, ...external.filter((c) => !seen.has(key(c)))];
}

/**
 * Walks every chain in position order and reports the first changed, removed or reordered entry of the first
 * broken chain; then compares each chain's tail with its head and with every signed checkpoint, which reveals
 * truncation. Positions are counted per chain (entries of chain 1 written before chains existed: their seq).
 */
export async function verifyChain(db: Queryable, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const published = (await db.query<{ id: number; seq: number | string; hash: string }>('select id, seq, hash from audit_chain_head order by id')).rows
    .map((h) => ({ id: Number(h.id), seq: Number(h.seq), hash: h.hash }));
  if (!published.some((h) => h.id === 1)) return { ok: false, firstBadSeq: 1, problem: 'truncated', chain: 1 };
  const checkpoints = mergeCheckpoints(await listCheckpoints(db), opts.externalCheckpoints ?? []);
  // A chain deleted whole, head row included, still has its signed checkpoints: walk it as an empty chain, so the
  // checkpoints reveal the truncation.
  const heads = [...published];
  for (const chain of new Set(checkpoints.map((c) => c.chain))) {
    if (!heads.some((h) => h.id === chain)) heads.push({ id: chain, seq: 0, hash: GENESIS_HASH });
  }
  heads.sort((a, b) => a.id - b.id);
  let count = 0;
  let chains = 0;
  for (const head of heads) {
    const outcome = await verifyOne(db, head, checkpoints, opts);
    if (typeof outcome !== 'number') return { ok: false, ...outcome, chain: head.id };
    count += outcome;
    if (outcome > 0) chains += 1;
  }
  const stray = (await db.query<{ chain: number }>('select distinct chain from audit_log where chain <> all($1::smallint[])', [published.map((h) => h.id)])).rows[0];
  if (stray) return { ok: false, firstBadSeq: 1, problem: 'changed', chain: Number(stray.chain) };
  return { ok: true, count, checkpoints: checkpoints.length, signaturesChecked: Boolean(opts.key), chains };
}
