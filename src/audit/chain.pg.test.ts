import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../store/database.ts';
import { appendAudit, verifyChain } from './chain.ts';
import { clinician, migratedPostgres, readOf } from './test-support.ts';

const pg = await migratedPostgres(8);
if (!pg) console.warn('PostgreSQL not reachable: skipping audit PostgreSQL tests');

describe.skipIf(!pg)('audit chain on PostgreSQL', () => {
  let db: Database;
  beforeAll(() => {
    db = pg!.db;
  });
  afterAll(() => pg?.drop());

  it('keeps one valid chain under concurrent appending transactions', async () => {
    const workers = Array.from({ length: 8 }, (_, w) => (async () => {
      for (let i = 0; i < 25; i++) {
        await db.transaction(async (tx) => {
          // Some other work first, as the gate does; the append is the last statement.
          await tx.query('select pg_sleep(0.001)');
          // Single events take the one-statement path, pairs the lock-then-insert path: both must interleave.
          await appendAudit(tx, i % 2 ? [readOf(`p${w}`, `Observation/${w}-${i}`), readOf(`p${w}`, `Patient/${w}`)] : [readOf(`p${w}`, `Observation/${w}-${i}`)]);
        });
      }
    })());
    await Promise.all(workers);
    const n = (await db.query<{ n: number }>('select count(*)::int as n from audit_log')).rows[0].n;
    expect(n).toBe(8 * (12 * 2 + 13));
    expect(await verifyChain(db)).toMatchObject({ ok: true, count: n });
    // Concurrent appenders took different chains instead of queueing behind one head.
    const chains = (await db.query<{ n: number }>('select count(distinct chain)::int as n from audit_log')).rows[0].n;
    expect(chains).toBeGreaterThan(1);
  });

  it('finds an entry removed from a chain other than the first', async () => {
    const victim = (await db.query<{ seq: number; chain: number; pos: number }>(
      'select seq, chain, chain_seq as pos from audit_log where chain > 1 order by chain, chain_seq limit 1',
    )).rows[0];
    await db.query('alter table audit_log disable trigger user');
    try {
      await db.query('delete from audit_log where seq = $1', [victim.seq]);
    } finally {
      await db.query('alter table audit_log enable always trigger audit_log_no_update');
      await db.query('alter table audit_log enable always trigger audit_log_no_truncate');
    }
    const result = await verifyChain(db);
    if (result.ok) throw new Error('the removed entry went unnoticed');
    expect(result.chain).toBe(Number(victim.chain));
    expect(['removed', 'truncated']).toContain(result.problem);
  });

  it('rejects changes through normal SQL and hands the log to a separate owner role', async () => {
    await db.transaction((tx) => appendAudit(tx, readOf('p1', 'Patient/1', { ctx: clinician({ userId: 'u2' }) })));
    await expect(db.query(`update audit_log set agent_name = 'x'`)).rejects.toThrow(/append-only/);
    await expect(db.query('delete from audit_log')).rejects.toThrow(/append-only/);
    await expect(db.query('truncate audit_log')).rejects.toThrow(/append-only/);
    const owner = (await db.query<{ owner: string }>(
      `select tableowner as owner from pg_tables where tablename = 'audit_log' and schemaname = current_schema()`,
    )).rows[0].owner;
    expect(owner).toBe('katahdin_audit_owner');
  });
});
