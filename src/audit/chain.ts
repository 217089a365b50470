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
 * The session setting that holds the head of the connection's chain as `chain:position:hash:schema`
 * (0015_audit_session_chains.sql); a head kept for another schema (tests switch `search_path`) is claimed anew.
 */
const HEAD_SETTING = 'katahdin.audit_head';

/** The head of the connection's chain as one row (`id`, `seq`, `hash`): claimed on the connection's first append. */
const HEAD_ROW = `select split_part(v, ':', 1)::smallint as id, split_part(v, ':', 2)::bigint as seq, split_part(v, ':', 3) as hash
  from (select case when split_part(s, ':', 4) = current_schema() then s else audit_chain_claim() end as v
    from (select coalesce(current_setting('${HEAD_SETTING}', true), '') as s) k) s`;

/** Moves the connection's head; undone with everything else if the transaction rolls back. */
const moveHead = (chain: string, position: string, hash: string) =>
  `set_config('${HEAD_SETTING}', ${chain} || ':' || ${position} || ':' || ${hash} || ':' || current_schema(), false)`;

/**
 * One statement per chunk: insert the rows, queue reviews, move the connection's head (data-modifying CTEs always run).
 * Plain parameterised VALUES: measured several times cheaper than unpacking a JSON array in SQL.
 */
function appendStatement(chunk: PendingRow[]): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const param = (v: unknown) => `$${values.push(v)}`;
  const tuples = chunk.map(({ row }) => `(${COLUMNS.map((c) => param(row[c])).join(', ')})`);
  const reviews = chunk.filter((p) => p.review).map((p) => `(${param(p.row.seq)}, ${param(p.review)})`);
  const last = chunk[chunk.length - 1].row;
  const head = `select ${moveHead(`${param(last.chain)}::text`, `${param(last.chain_seq)}::text`, `${param(last.hash)}::text`)}`;
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

/** The connection's chain head and `n` event ids. */
async function headOf(tx: Queryable, n: number): Promise<HeadRow> {
  const head = await tx.query<HeadRow>(
    `select h.id, h.seq, h.hash, (select array_agg(nextval('audit_event_seq')) from generate_series(1, $1::int)) as ids from (${HEAD_ROW}) h`,
    [n],
  );
  if (head.rows.length !== 1) throw new Error('audit chain head missing');
  return head.rows[0];
}

/**
 * The CTEs `h`, `e`, `ins`, `upd` that append one entry in the statement they are part of: the connection's chain
 * head (claimed on its first append), the event id, the entry with its hash computed by the database (the same text
 * `hashEntry` hashes: place, previous hash, canonical facts) and the head moved on. `facts` are the expressions of
 * `FACT_COLUMNS` in order and `canonical` the canonical JSON of those facts, both over `from` (which ends with a
 * comma, or is empty). The statement must select from `upd`, or the head does not move.
 */
export function appendCtes(facts: string[], canonical: string, from = ''): string {
  return `h as materialized (${HEAD_ROW}),
    e as (select nextval('audit_event_seq') as seq from h),
    ins as (insert into audit_log (${FACT_COLUMNS.map(([c]) => c).join(', ')}, seq, chain, chain_seq, prev_hash, hash)
      select ${facts.join(', ')}, e.seq, h.id, h.seq + 1, h.hash,
        encode(sha256(convert_to(h.id || '.' || (h.seq + 1) || '.' || e.seq || E'\\n' || h.hash || E'\\n' || ${canonical}, 'UTF8')), 'hex')
      from ${from} h, e returning seq, chain, chain_seq, hash),
    upd as (select ${moveHead('ins.chain::text', 'ins.chain_seq::text', 'ins.hash')} as head from ins)`;
}

/** The common case, one event, in one statement (`appendCtes`). */
async function appendSingle(tx: Queryable, f: AuditFacts, review: PendingRow['review']): Promise<void> {
  const row = factsRow({ seq: 0, chain: 0, chainSeq: 0 }, '', '', f);
  const values: unknown[] = FACT_COLUMNS.map(([c]) => row[c]);
  const params = FACT_COLUMNS.map(([, type], i) => `$${i + 1}::${type}`);
  values.push(canonicalJson(f));
  const canonical = `$${values.length}::text`;
  const reviewCte = review ? `, rev as (insert into audit_reviews (event_seq, kind) select seq, $${values.push(review)}::text from ins)` : '';
  const text = `with ${appendCtes(params, canonical)}${reviewCte} select head from upd`;
  if ((await tx.query(text, values)).rows.length !== 1) throw new Error('audit entry not written');
}

/**
 * Appends audit events in the caller's transaction, chained onto the head of its connection's chain. Throws when the
 * write fails, so the access it records fails with it.
 */
export async function appendAudit(tx: Queryable, input: AuditInput | AuditInput[], opts: AppendOptions = {}): Promise<void> {
  const inputs = Array.isArray(input) ? input : [input];
  if (inputs.length === 0) return;
  const now = opts.now ?? new Date();
  const facts: AuditFacts[] = inputs.map((i) => auditFacts(i, now));
  if (facts.length === 1) return appendSingle(tx, facts[0], reviewKind(inputs[0]));
  const head = await headOf(tx, facts.length);
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
