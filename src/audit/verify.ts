import type { Queryable } from '../store/database.ts';
import { GENESIS_HASH } from './canonical.ts';
import { checkpointSignatureValid, listCheckpoints, type CheckpointKey } from './checkpoint.ts';
import { AUDIT_COLUMNS, hashEntry, rowFacts, type AuditRow } from './entry.ts';

export type TamperProblem = 'changed' | 'removed' | 'reordered' | 'checkpoint-mismatch' | 'truncated';

export type VerifyResult =
  | { ok: true; count: number; checkpoints: number; signaturesChecked: boolean }
  | { ok: false; firstBadSeq: number; problem: TamperProblem };

export interface VerifyOptions {
  /** The checkpoint key; without it checkpoint hashes are compared but signatures are not checked. */
  key?: CheckpointKey;
  batchSize?: number;
}

const WINDOW = 64;

const selfConsistent = (row: AuditRow, seq = row.seq, prev = row.prev_hash, hash = row.hash) =>
  hashEntry(seq, prev, rowFacts(row)) === hash;

/** Decides what happened at a broken link: content moved from another position, or changed in place. */
async function classify(db: Queryable, bad: AuditRow, before: AuditRow | undefined): Promise<{ firstBadSeq: number; problem: TamperProblem }> {
  const window = (await db.query<AuditRow>(
    `select ${AUDIT_COLUMNS} from audit_log where seq between $1 and $2 order by seq`,
    [bad.seq, bad.seq + WINDOW],
  )).rows.map((r) => ({ ...r, seq: Number(r.seq) }));
  const facts = rowFacts(bad);
  const movedWhole = window.some((o) => o.seq !== bad.seq && hashEntry(o.seq, bad.prev_hash, facts) === bad.hash);
  const movedContent = window.some((o) => o.seq !== bad.seq && hashEntry(o.seq, o.prev_hash, facts) === o.hash);
  if (movedWhole || movedContent) return { firstBadSeq: bad.seq, problem: 'reordered' };
  // A self-consistent row whose link is broken means its predecessor was rewritten (hash recomputed).
  if (selfConsistent(bad) && before) return { firstBadSeq: before.seq, problem: 'changed' };
  return { firstBadSeq: bad.seq, problem: 'changed' };
}

interface Walk {
  count: number;
  last?: AuditRow;
  failure?: { firstBadSeq: number; problem: TamperProblem };
}

async function walk(db: Queryable, batchSize: number): Promise<Walk> {
  let prev: AuditRow | undefined;
  let count = 0;
  for (;;) {
    const rows = (await db.query<AuditRow>(
      `select ${AUDIT_COLUMNS} from audit_log where seq > $1 order by seq limit $2`,
      [prev?.seq ?? 0, batchSize],
    )).rows;
    if (rows.length === 0) return { count, last: prev };
    for (const raw of rows) {
      const row = { ...raw, seq: Number(raw.seq) };
      const expectedSeq = (prev?.seq ?? 0) + 1;
      if (row.seq !== expectedSeq) return { count, failure: { firstBadSeq: expectedSeq, problem: 'removed' } };
      const linked = row.prev_hash === (prev?.hash ?? GENESIS_HASH);
      if (!linked || !selfConsistent(row)) return { count, failure: await classify(db, row, prev) };
      prev = row;
      count += 1;
    }
  }
}

/**
 * Walks the whole chain in sequence order and reports the first changed, removed or reordered entry; then
 * compares the tail with the chain head and with every signed checkpoint, which reveals truncation.
 */
export async function verifyChain(db: Queryable, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const result = await walk(db, opts.batchSize ?? 2000);
  if (result.failure) return { ok: false, ...result.failure };
  const lastSeq = result.last?.seq ?? 0;
  const head = (await db.query<{ seq: number | string; hash: string }>('select seq, hash from audit_chain_head where id = 1')).rows[0];
  if (!head || Number(head.seq) > lastSeq) return { ok: false, firstBadSeq: lastSeq + 1, problem: 'truncated' };
  if (Number(head.seq) === lastSeq && lastSeq > 0 && head.hash !== result.last?.hash) {
    return { ok: false, firstBadSeq: lastSeq, problem: 'changed' };
  }
  const checkpoints = await listCheckpoints(db);
  for (const cp of checkpoints) {
    if (opts.key && !checkpointSignatureValid(cp, opts.key)) return { ok: false, firstBadSeq: cp.seq, problem: 'checkpoint-mismatch' };
    if (cp.seq > lastSeq) return { ok: false, firstBadSeq: lastSeq + 1, problem: 'truncated' };
    if (cp.seq === 0) continue;
    const at = (await db.query<{ hash: string }>('select hash from audit_log where seq = $1', [cp.seq])).rows[0];
    if (at?.hash !== cp.hash) return { ok: false, firstBadSeq: cp.seq, problem: 'checkpoint-mismatch' };
  }
  return { ok: true, count: result.count, checkpoints: checkpoints.length, signaturesChecked: Boolean(opts.key) };
}
