import type { Queryable, Statement } from '../store/database.ts';
import { auditFacts } from './events.ts';
import { canonicalJson } from './canonical.ts';
import { factsRow, type AuditRow } from './entry.ts';
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

// Keeps each statement well under PostgreSQL's 65,535 bind parameters (19 per entry).
const ROWS_PER_STATEMENT = 1000;

interface PendingEntry {
  facts: AuditFacts;
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

/** The text an entry's hash covers, over SQL expressions: the same text `hashEntry` hashes (place, previous hash, facts). */
const hashSql = (chain: string, position: string, seq: string, prev: string, canonical: string) =>
  `encode(sha256(convert_to(${chain} || '.' || ${position} || '.' || ${seq} || E'\\n' || ${prev} || E'\\n' || ${canonical}, 'UTF8')), 'hex')`;

/**
 * One statement appends a chunk of entries (one entry: `appendOne`): the connection's head, an event id per entry (in
 * order), each entry's hash chained onto the one before by a recursive CTE (the database hashes the canonical facts
 * computed here), the rows, the review queue and the head moved on to the last entry. One round trip, and nothing
 * to wait for before it: the caller can send its commit right behind it. Plain parameterised VALUES: measured several
 * times cheaper than unpacking a JSON array in SQL.
 */
function appendStatement(chunk: PendingEntry[]): Statement {
  if (chunk.length === 1) return appendOne(chunk[0]);
  const values: unknown[] = [];
  const param = (v: unknown, type: string) => `$${values.push(v)}::${type}`;
  const tuples = chunk.map(({ facts, review }, i) => {
    const row = factsRow({ seq: 0, chain: 0, chainSeq: 0 }, '', '', facts);
    const cells = [`${i + 1}`, ...FACT_COLUMNS.map(([c, type]) => param(row[c], type)), param(canonicalJson(facts), 'text'), param(review, 'text')];
    return `(${cells.join(', ')})`;
  });
  const facts = FACT_COLUMNS.map(([c]) => c);
  const text = `with recursive h as materialized (${HEAD_ROW}),
    src (n, ${facts.join(', ')}, canonical, review) as (values ${tuples.join(', ')}),
    ids as materialized (select n, nextval('audit_event_seq') as seq from (select n from src order by n) o),
    chained (n, chain_seq, seq, prev_hash, hash) as (
      select 0, h.seq, 0::bigint, null::text, h.hash from h
      union all
      select s.n, c.chain_seq + 1, i.seq, c.hash, ${hashSql('h.id', '(c.chain_seq + 1)', 'i.seq', 'c.hash', 's.canonical')}
      from chained c join src s on s.n = c.n + 1 join ids i on i.n = s.n cross join h),
    ins as (insert into audit_log (${facts.join(', ')}, seq, chain, chain_seq, prev_hash, hash)
      select ${facts.map((f) => `s.${f}`).join(', ')}, c.seq, h.id, c.chain_seq, c.prev_hash, c.hash
      from src s join chained c on c.n = s.n cross join h returning seq, chain, chain_seq, hash),
    rev as (insert into audit_reviews (event_seq, kind) select c.seq, s.review from src s join chained c on c.n = s.n where s.review is not null)
    select ${moveHead('l.chain::text', 'l.chain_seq::text', 'l.hash')} as head from (select * from ins order by chain_seq desc limit 1) l`;
  return { text, values };
}

function reviewKind(input: AuditInput): 'break-glass' | 'attestation' | null {
  if (input.outcome !== 'success') return null;
  if (input.action === 'break-glass') return 'break-glass';
  if (input.action === 'attest') return 'attestation';
  return null;
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
        ${hashSql('h.id', '(h.seq + 1)', 'e.seq', 'h.hash', canonical)}
      from ${from} h, e returning seq, chain, chain_seq, hash),
    upd as (select ${moveHead('ins.chain::text', 'ins.chain_seq::text', 'ins.hash')} as head from ins)`;
}

/**
 * The common case, one entry, without the recursion (`appendCtes`): measured 15 % more audited one-entry transactions
 * per second than the chunk statement with one row (2,892 / 3,141 against 2,478 / 2,634, `bench/audit/append.ts`).
 */
function appendOne({ facts, review }: PendingEntry): Statement {
  const row = factsRow({ seq: 0, chain: 0, chainSeq: 0 }, '', '', facts);
  const values: unknown[] = FACT_COLUMNS.map(([c]) => row[c]);
  const params = FACT_COLUMNS.map(([, type], i) => `$${i + 1}::${type}`);
  values.push(canonicalJson(facts));
  const canonical = `$${values.length}::text`;
  const reviewCte = review ? `, rev as (insert into audit_reviews (event_seq, kind) select seq, $${values.push(review)}::text from ins)` : '';
  return { text: `with ${appendCtes(params, canonical)}${reviewCte} select head from upd`, values };
}

/** The statements that append these events (one per thousand), for a caller that runs them in its transaction. */
export function appendStatements(input: AuditInput | AuditInput[], opts: AppendOptions = {}): Statement[] {
  const inputs = Array.isArray(input) ? input : [input];
  const now = opts.now ?? new Date();
  const statements: Statement[] = [];
  for (let i = 0; i < inputs.length; i += ROWS_PER_STATEMENT) {
    statements.push(appendStatement(inputs.slice(i, i + ROWS_PER_STATEMENT).map((x) => ({ facts: auditFacts(x, now), review: reviewKind(x) }))));
  }
  return statements;
}

/**
 * Appends audit events in the caller's transaction, chained onto the head of its connection's chain, in one statement
 * (per thousand events). Throws when the write fails, so the access it records fails with it.
 */
export async function appendAudit(tx: Queryable, input: AuditInput | AuditInput[], opts: AppendOptions = {}): Promise<void> {
  for (const { text, values } of appendStatements(input, opts)) {
    if ((await tx.query(text, values)).rows.length !== 1) throw new Error('audit entry not written');
  }
}
