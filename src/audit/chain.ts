import type { Queryable } from '../store/database.ts';
import { auditFacts } from './events.ts';
import { factsRow, hashEntry, type AuditRow } from './entry.ts';
import type { AuditFacts, AuditInput } from './types.ts';

export { verifyChain } from './verify.ts';
export type { VerifyResult, VerifyOptions } from './verify.ts';
export { writeCheckpoint, loadCheckpointKey } from './checkpoint.ts';
export type { CheckpointKey } from './checkpoint.ts';

export interface AppendOptions {
  /** Clock for `recorded` (tests). */
  now?: Date;
}

const COLUMNS = [
  'seq', 'recorded', 'action', 'subtype', 'outcome', 'purpose', 'agent_user_id', 'agent_name', 'agent_role', 'agent_org',
  'agent_client', 'source_ip', 'person_ids', 'entity_refs', 'relationship', 'break_glass', 'event', 'prev_hash', 'hash',
] as const;
// Keeps each statement well under PostgreSQL's 65,535 bind parameters.
const ROWS_PER_STATEMENT = 1000;

interface PendingRow {
  row: AuditRow;
  review: 'break-glass' | 'attestation' | null;
}

/**
 * One statement per chunk: insert the rows, queue reviews, move the head (data-modifying CTEs always run).
 * Plain parameterised VALUES: measured several times cheaper than unpacking a JSON array in SQL.
 */
function appendStatement(chunk: PendingRow[]): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const param = (v: unknown) => `$${values.push(v)}`;
  const tuples = chunk.map(({ row }) => `(${COLUMNS.map((c) => param(row[c])).join(', ')})`);
  const reviews = chunk.filter((p) => p.review).map((p) => `(${param(p.row.seq)}, ${param(p.review)})`);
  const last = chunk[chunk.length - 1].row;
  const head = `update audit_chain_head set seq = ${param(last.seq)}, hash = ${param(last.hash)} where id = 1`;
  const text = `with ins as (insert into audit_log (${COLUMNS.join(', ')}) values ${tuples.join(', ')})` +
    (reviews.length ? `, rev as (insert into audit_reviews (event_seq, kind) values ${reviews.join(', ')})` : '') +
    ` ${head}`;
  return { text, values };
}

function reviewKind(input: AuditInput): 'break-glass' | 'attestation' | null {
  if (input.outcome !== 'success') return null;
  if (input.action === 'break-glass') return 'break-glass';
  if (input.action === 'attest') return 'attestation';
  return null;
}

/**
 * Appends audit events in the caller's transaction, chained to the current head. Call it as the LAST statement
 * before commit: it takes the chain-head row lock, which serialises concurrent appenders until they commit.
 * Throws when the write fails, so the access it records fails with it.
 */
export async function appendAudit(tx: Queryable, input: AuditInput | AuditInput[], opts: AppendOptions = {}): Promise<void> {
  const inputs = Array.isArray(input) ? input : [input];
  if (inputs.length === 0) return;
  const now = opts.now ?? new Date();
  // Everything that does not depend on the head is built before the lock is taken.
  const facts: AuditFacts[] = inputs.map((i) => auditFacts(i, now));
  const head = await tx.query<{ seq: number | string; hash: string }>(
    'select seq, hash from audit_chain_head where id = 1 for update',
  );
  if (head.rows.length !== 1) throw new Error('audit chain head missing');
  let seq = Number(head.rows[0].seq);
  let prev = head.rows[0].hash;
  const pending: PendingRow[] = facts.map((f, i) => {
    seq += 1;
    const hash = hashEntry(seq, prev, f);
    const row = factsRow(seq, prev, hash, f);
    prev = hash;
    return { row, review: reviewKind(inputs[i]) };
  });
  for (let i = 0; i < pending.length; i += ROWS_PER_STATEMENT) {
    const { text, values } = appendStatement(pending.slice(i, i + ROWS_PER_STATEMENT));
    await tx.query(text, values);
  }
}
