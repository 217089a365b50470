import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditSink } from '../access/audit-sink.ts';
import type { Database } from '../store/database.ts';
import { canonicalJson, GENESIS_HASH } from './canonical.ts';
import { AUDIT_COLUMNS, eventOfRow, factsRow, hashEntry, rowFacts, type AuditRow } from './entry.ts';
import { auditFacts, buildAuditEvent } from './events.ts';
import { appendAudit, appendStatements, loadCheckpointKey, verifyChain, writeCheckpoint } from './chain.ts';
import { recordedReadStatement } from './recorded-read.ts';
import { migratedPglite, readOf } from './test-support.ts';

let db: Database;

async function seed(n: number): Promise<void> {
  for (let i = 1; i <= n; i++) {
    await db.transaction((tx) => appendAudit(tx, readOf(`p${i}`, `Observation/o${i}`)));
  }
}

/** What an attacker with superuser rights does: switch the protection off, edit, switch it back on. */
async function tamper(statements: string[], params: unknown[][] = []): Promise<void> {
  await db.query('alter table audit_log disable trigger user');
  try {
    for (const [i, s] of statements.entries()) await db.query(s, params[i]);
  } finally {
    await db.query('alter table audit_log enable always trigger audit_log_no_update');
    await db.query('alter table audit_log enable always trigger audit_log_no_truncate');
  }
}

beforeEach(async () => {
  db = await migratedPglite();
});
afterEach(async () => {
  await db.close();
});

describe('entries written before chains and compact entries', () => {
  it('still verify, and new entries chain on after them', async () => {
    const input = readOf('p-old', 'Observation/old');
    const recorded = new Date('2026-11-01T10:00:00.000Z');
    const { query: _q, detail: _d, ...common } = auditFacts(input, recorded);
    const legacy = { ...common, event: canonicalJson(buildAuditEvent(input, recorded)) };
    const hash = hashEntry(1, GENESIS_HASH, legacy);
    const row = factsRow({ seq: 1, chain: 1, chainSeq: 1 }, GENESIS_HASH, hash, legacy);
    // Written as 0008_audit_chains.sql leaves older entries: chain 1, no chain_seq, the AuditEvent JSON stored and hashed.
    const columns = AUDIT_COLUMNS.split(', ');
    const insert = `insert into audit_log (${AUDIT_COLUMNS}) values (${columns.map((_, i) => `$${i + 1}`).join(', ')})`;
    await tamper([insert], [columns.map((c) => (c === 'chain_seq' ? null : row[c as keyof AuditRow]))]);
    await db.query(`update audit_chain_head set seq = 1, hash = $1 where id = 1`, [hash]);
    await db.query(`select setval('audit_event_seq', 2, false)`);
    await seed(2);
    expect(await verifyChain(db)).toMatchObject({ ok: true, count: 3 });
    const stored = (await db.query<AuditRow>(`select ${AUDIT_COLUMNS} from audit_log where seq = 1`)).rows[0];
    expect(eventOfRow(stored)).toEqual({ ...buildAuditEvent(input, recorded), id: '1' });
  });
});

describe('appendAudit + verifyChain', () => {
  it('chains single and batched appends and verifies them', async () => {
    await seed(3);
    await db.transaction((tx) => appendAudit(tx, [readOf('p9', 'Patient/a'), readOf('p9', 'Patient/b')]));
    const rows = (await db.query<{ seq: number; prev_hash: string; hash: string }>('select seq, prev_hash, hash from audit_log order by seq')).rows;
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5]);
    for (let i = 1; i < rows.length; i++) expect(rows[i].prev_hash).toBe(rows[i - 1].hash);
    expect(await verifyChain(db)).toMatchObject({ ok: true, count: 5 });
  });

  it('appends a large batch in chunks of one statement each, ids and positions in order, reviews queued', async () => {
    await seed(1);
    const batch = Array.from({ length: 1_203 }, (_, i) => (i === 1_100
      ? { ...readOf('p-btg', 'Patient/btg'), action: 'break-glass' as const }
      : readOf(`p${i}`, `Observation/b${i}`)));
    await db.transaction((tx) => appendAudit(tx, batch));
    const rows = (await db.query<{ seq: string; chain_seq: string; prev_hash: string; hash: string }>('select seq, chain_seq, prev_hash, hash from audit_log order by chain_seq')).rows;
    expect(rows).toHaveLength(1_204);
    rows.forEach((r, i) => {
      expect(Number(r.chain_seq)).toBe(i + 1);
      if (i > 0) {
        expect(Number(r.seq)).toBeGreaterThan(Number(rows[i - 1].seq));
        expect(r.prev_hash).toBe(rows[i - 1].hash);
      }
    });
    const reviews = (await db.query<{ seq: string; kind: string }>('select event_seq as seq, kind from audit_reviews')).rows;
    expect(reviews).toEqual([{ seq: rows[1_101].seq, kind: 'break-glass' }]);
    expect(await verifyChain(db)).toMatchObject({ ok: true, count: 1_204 });
  });

  it('accepts the gate sink records as they are', async () => {
    const sink: AuditSink = { append: (tx, records) => appendAudit(tx, records), appendStatements: (records) => appendStatements(records), readStatement: recordedReadStatement };
    await db.transaction((tx) => sink.append(tx, [{ ...readOf('p1', 'Patient/a'), action: 'capabilities', relationship: 'none' }]));
    expect((await db.query('select action, relationship from audit_log')).rows).toEqual([{ action: 'capabilities', relationship: 'none' }]);
  });

  it('makes the access fail when the audit cannot be written', async () => {
    await db.query('alter table audit_log add constraint no_more check (seq < 2)');
    await seed(1);
    await expect(db.transaction(async (tx) => {
      await tx.query(`insert into audit_archives (first_seq, last_seq, last_hash, file_sha256, location) values (0, 0, '', '', 'access work')`);
      await appendAudit(tx, readOf('p2', 'Patient/b'));
    })).rejects.toThrow();
    expect((await db.query('select * from audit_archives')).rows).toHaveLength(0);
  });

  it('writes nothing when the transaction rolls back', async () => {
    await expect(db.transaction(async (tx) => {
      await appendAudit(tx, readOf('p1', 'Patient/a'));
      throw new Error('access failed');
    })).rejects.toThrow('access failed');
    expect((await db.query('select * from audit_log')).rows).toHaveLength(0);
    expect(await verifyChain(db)).toMatchObject({ ok: true, count: 0 });
    // The connection's head went back with the rollback: the next entry is the chain's first.
    await seed(1);
    expect((await db.query('select chain_seq, prev_hash from audit_log')).rows).toEqual([{ chain_seq: 1, prev_hash: GENESIS_HASH }]);
    expect(await verifyChain(db)).toMatchObject({ ok: true, count: 1 });
  });

  it('rejects UPDATE, DELETE and TRUNCATE through normal SQL', async () => {
    await seed(2);
    await expect(db.query(`update audit_log set agent_name = 'x' where seq = 1`)).rejects.toThrow(/append-only/);
    await expect(db.query('delete from audit_log where seq = 2')).rejects.toThrow(/append-only/);
    await expect(db.query('truncate audit_log')).rejects.toThrow(/append-only/);
    await expect(db.query('update audit_chain_head set seq = seq - 1 where id = 1')).rejects.toThrow(/forward/);
    await expect(db.query(`set session_replication_role = replica`).then(() => db.query('delete from audit_log'))).rejects.toThrow(/append-only/);
    await db.query(`set session_replication_role = origin`);
    expect(await verifyChain(db)).toMatchObject({ ok: true, count: 2 });
  });
});

describe('tamper detection', () => {
  beforeEach(() => seed(8));

  it('finds a changed entry', async () => {
    await tamper([`update audit_log set agent_name = 'Nobody' where seq = 5`]);
    expect(await verifyChain(db)).toEqual({ ok: false, firstBadSeq: 5, problem: 'changed', chain: 1 });
  });

  it('finds a changed person id even though the event JSON is untouched', async () => {
    await tamper([`update audit_log set person_ids = '{other}' where seq = 3`]);
    expect(await verifyChain(db)).toEqual({ ok: false, firstBadSeq: 3, problem: 'changed', chain: 1 });
  });

  it('finds a changed entry whose own hash was recomputed', async () => {
    const row = (await db.query<AuditRow>(`select ${AUDIT_COLUMNS} from audit_log where seq = 4`)).rows[0];
    const forged = hashEntry(4, row.prev_hash, { ...rowFacts(row), agentName: 'Nobody' });
    await tamper([`update audit_log set agent_name = 'Nobody', hash = '${forged}' where seq = 4`]);
    expect(await verifyChain(db)).toEqual({ ok: false, firstBadSeq: 4, problem: 'changed', chain: 1 });
  });

  it('finds a removed entry', async () => {
    await tamper(['delete from audit_log where seq = 6']);
    expect(await verifyChain(db)).toEqual({ ok: false, firstBadSeq: 6, problem: 'removed', chain: 1 });
  });

  it('finds two entries swapped whole (all columns but seq)', async () => {
    await tamper([swapSql(3, 4, true)]);
    expect(await verifyChain(db)).toEqual({ ok: false, firstBadSeq: 3, problem: 'reordered', chain: 1 });
  });

  it('finds two entries whose contents were swapped, hashes left in place', async () => {
    await tamper([swapSql(6, 7, false)]);
    expect(await verifyChain(db)).toEqual({ ok: false, firstBadSeq: 6, problem: 'reordered', chain: 1 });
  });

  it('finds a truncated tail against the head and against a signed checkpoint', async () => {
    const keyDir = join(await mkdtemp(join(tmpdir(), 'audit-keys-')), 'keys');
    const key = (await loadCheckpointKey(keyDir, { create: true }))!;
    await writeCheckpoint(db, key);
    await tamper(['delete from audit_log where seq > 6']);
    expect(await verifyChain(db, { key })).toEqual({ ok: false, firstBadSeq: 7, problem: 'truncated', chain: 1 });
    // An attacker who also rolls the head back is still caught by the checkpoint.
    await db.query('alter table audit_chain_head disable trigger user');
    await db.query(`update audit_chain_head set seq = 6, hash = (select hash from audit_log where seq = 6)`);
    expect(await verifyChain(db, { key })).toEqual({ ok: false, firstBadSeq: 7, problem: 'truncated', chain: 1 });
  });

  it('finds a rewritten chain through the checkpoint, and a forged checkpoint through its signature', async () => {
    const keyDir = join(await mkdtemp(join(tmpdir(), 'audit-keys-')), 'keys');
    const key = (await loadCheckpointKey(keyDir, { create: true }))!;
    await writeCheckpoint(db, key);
    expect(await verifyChain(db, { key })).toMatchObject({ ok: true, count: 8, checkpoints: 1, signaturesChecked: true });
    await db.query('alter table audit_checkpoints disable trigger user');
    await db.query(`update audit_checkpoints set hash = '${'a'.repeat(64)}'`);
    expect(await verifyChain(db, { key })).toEqual({ ok: false, firstBadSeq: 8, problem: 'checkpoint-mismatch', chain: 1 });
    expect(await verifyChain(db)).toEqual({ ok: false, firstBadSeq: 8, problem: 'checkpoint-mismatch', chain: 1 });
  });
});

const SWAPPED = ['recorded', 'action', 'subtype', 'outcome', 'purpose', 'agent_user_id', 'agent_name', 'agent_role', 'agent_org',
  'agent_client', 'source_ip', 'person_ids', 'entity_refs', 'relationship', 'break_glass', 'event', 'query', 'detail'];

function swapSql(a: number, b: number, withHashes: boolean): string {
  const cols = withHashes ? [...SWAPPED, 'prev_hash', 'hash'] : SWAPPED;
  return `update audit_log t set ${cols.map((c) => `${c} = o.${c}`).join(', ')}
    from audit_log o where (t.seq = ${a} and o.seq = ${b}) or (t.seq = ${b} and o.seq = ${a})`;
}
