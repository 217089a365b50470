import type { Queryable } from '../store/database.ts';
import { auditFacts } from './events.ts';
import { canonicalJson } from './canonical.ts';
import { factsRow, hashEntry, placeOf, type AuditRow } from './entry.ts';
import type { AuditFacts, AuditInput } from './types.ts';

export { verifyChain } from './verify.ts';
export type { VerifyResult, VerifyOptions } from './verify.ts';
export { writeCheckpoint, loadCheckpointKey } from './checkpoint.ts';
export type { CheckpointKey } from './checkpoint.ts';

export interface AppendOptions {
  /** Clock for `recorded` (tests). */
  now?: Date;
}

/** Columns of a fact row with the casts an `insert … select` of parameters needs. */
export const FACT_COLUMNS: Array<[keyof AuditRow, string]> = [
  ['recorded', 'timestamptz'], ['action', 'text'], ['subtype', 'text'], ['outcome', 'text'], ['purpose', 'text'],
  ['agent_user_id', 'text'], ['agent_name', 'text'], ['agent_role', 'text'], ['agent_org', 'text'], ['agent_client', 'text'],
  ['source_ip', 'text'], ['person_ids', 'text[]'], ['entity_refs', 'text[]'], ['relationship', 'text'], ['break_glass', 'boolean'],
  ['query', 'text'], ['detail', 'text'],
];

/** Every column an append writes: the facts, then the entry's place in its chain. */
const COLUMNS: Array<keyof AuditRow> = [...FACT_COLUMNS.map(([c]) => c), 'seq', 'prev_hash', 'hash', 'chain', 'chain_seq'];
// Keeps each statement well under PostgreSQL's 65,535 bind parameters.
const ROWS_PER_STATEMENT = 1000;

interface PendingRow {
  row: AuditRow;
  review: 'break-glass' | 'attestation' | null;
}

/**
 * One statement per chunk: insert the rows, queue reviews, move the chain's head (data-modifying CTEs always run).
 * Plain parameterised VALUES: measured several times cheaper than unpacking a JSON array in SQL.
 */
function appendStatement(chunk: PendingRow[]): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const param = (v: unknown) => `$${values.push(v)}`;
  const tuples = chunk.map(({ row }) => `(${COLUMNS.map((c) => param(row[c])).join(', ')})`);
  const reviews = chunk.filter((p) => p.review).map((p) => `(${param(p.row.seq)}, ${param(p.review)})`);
  const last = chunk[chunk.length - 1].row;
  const head = `update audit_chain_head set seq = ${param(last.chain_seq)}, hash = ${param(last.hash)} where id = ${param(last.chain)}`;
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

interface HeadRow {
  id: number;
  seq: number | string;
  hash: string;
  ids: Array<number | string>;
}

/**
 * Locks a chain head for this transaction and draws the event ids: the first head no other transaction holds, so
 * concurrent appenders never queue behind one another; only when every head is busy does it wait for one.
 */
async function lockHead(tx: Queryable, n: number): Promise<HeadRow> {
  const ids = `(select array_agg(nextval('audit_event_seq')) from generate_series(1, $1::int)) as ids`;
  const free = await tx.query<HeadRow>(
    `select h.id, h.seq, h.hash, ${ids} from (select id, seq, hash from audit_chain_head order by id limit 1 for update skip locked) h`,
    [n],
  );
  if (free.rows.length === 1) return free.rows[0];
  const busy = await tx.query<HeadRow>(
    `select h.id, h.seq, h.hash, ${ids} from (select id, seq, hash from audit_chain_head where id = $2 for update) h`,
    [n, 1 + Math.floor(Math.random() * AUDIT_CHAINS)],
  );
  if (busy.rows.length !== 1) throw new Error('audit chain head missing');
  return busy.rows[0];
}


/**
 * The CTEs `h`, `e`, `ins`, `upd` that append one entry in the statement they are part of: take the first chain head
 * no other transaction holds, draw the event id, insert the entry with its hash computed by the database (the same
 * text `hashEntry` hashes: place, previous hash, canonical facts) and move the head. `facts` are the expressions of
 * `FACT_COLUMNS` in order and `canonical` the canonical JSON of those facts, both over `from` (which ends with a
 * comma, or is empty). `upd` is empty when every head was busy: then nothing was appended.
 */
export function appendCtes(facts: string[], canonical: string, from = ''): string {
  return `h as (select id, seq, hash from audit_chain_head order by id limit 1 for update skip locked),
    e as (select nextval('audit_event_seq') as seq from h),
    ins as (insert into audit_log (${FACT_COLUMNS.map(([c]) => c).join(', ')}, seq, chain, chain_seq, prev_hash, hash)
      select ${facts.join(', ')}, e.seq, h.id, h.seq + 1, h.hash,
        encode(sha256(convert_to(h.id || '.' || (h.seq + 1) || '.' || e.seq || E'\\n' || h.hash || E'\\n' || ${canonical}, 'UTF8')), 'hex')
      from ${from} h, e returning seq, chain, chain_seq, hash),
    upd as (update audit_chain_head c set seq = ins.chain_seq, hash = ins.hash from ins where c.id = ins.chain returning c.id)`;
}

/** The common case, one event, in one statement (`appendCtes`). Returns false when every head is held by another transaction. */
async function appendSingle(tx: Queryable, f: AuditFacts, review: PendingRow['review']): Promise<boolean> {
  const row = factsRow({ seq: 0, chain: 0, chainSeq: 0 }, '', '', f);
  const values: unknown[] = FACT_COLUMNS.map(([c]) => row[c]);
  const params = FACT_COLUMNS.map(([, type], i) => `$${i + 1}::${type}`);
  values.push(canonicalJson(f));
  const canonical = `$${values.length}::text`;
  const reviewCte = review ? `, rev as (insert into audit_reviews (event_seq, kind) select seq, $${values.push(review)}::text from ins)` : '';
  const text = `with ${appendCtes(params, canonical)}${reviewCte} select id from upd`;
  return (await tx.query(text, values)).rows.length === 1;
}

/** How many chains 0008_audit_chains.sql created. */
export const AUDIT_CHAINS = 16;

/**
 * Appends audit events in the caller's transaction, chained to the head of a chain it locks. Call it as the LAST
 * statement before commit: the head's row lock is held until commit. Throws when the write fails, so the access
 * it records fails with it.
 */
export async function appendAudit(tx: Queryable, input: AuditInput | AuditInput[], opts: AppendOptions = {}): Promise<void> {
  const inputs = Array.isArray(input) ? input : [input];
  if (inputs.length === 0) return;
  const now = opts.now ?? new Date();
  // Everything that does not depend on the head is built before the lock is taken.
  const facts: AuditFacts[] = inputs.map((i) => auditFacts(i, now));
  if (facts.length === 1 && (await appendSingle(tx, facts[0], reviewKind(inputs[0])))) return;
  const head = await lockHead(tx, facts.length);
  const chain = Number(head.id);
  let chainSeq = Number(head.seq);
  let prev = head.hash;
  const pending: PendingRow[] = facts.map((f, i) => {
    chainSeq += 1;
    const place = { seq: Number(head.ids[i]), chain, chainSeq };
    const hash = hashEntry(placeOf({ seq: place.seq, chain, chain_seq: chainSeq }), prev, f);
    const row = factsRow(place, prev, hash, f);
    prev = hash;
    return { row, review: reviewKind(inputs[i]) };
  });
  for (let i = 0; i < pending.length; i += ROWS_PER_STATEMENT) {
    const { text, values } = appendStatement(pending.slice(i, i + ROWS_PER_STATEMENT));
    await tx.query(text, values);
  }
}
