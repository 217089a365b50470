import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../store/database.ts';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendAudit, verifyChain } from './chain.ts';
import { loadCheckpointKey, writeCheckpoint } from './checkpoint.ts';
import { openPostgres } from '../store/postgres-database.ts';
import { clinician, migratedPostgres, PG_URL, readOf } from './test-support.ts';

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
          // Single events take the one-statement path, pairs the head-then-insert path: both must interleave.
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

  it('gives each connection a chain of its own, continued from the log by the next connection that claims it', async () => {
    // A schema of its own: chains are claimed per schema, and no idle connection of another test holds one here.
    const own = (await migratedPostgres(1))!;
    const url = { url: PG_URL, schema: own.schema, max: 1 };
    const first = await openPostgres(url);
    const second = await openPostgres(url);
    try {
      const chainOf = async (conn: Database, person: string) => {
        await conn.transaction((tx) => appendAudit(tx, readOf(person, `Patient/${person}`)));
        return (await conn.query<{ chain: number; pos: number }>(
          `select chain, chain_seq as pos from audit_log where person_ids = array[$1] order by seq desc limit 1`, [person],
        )).rows[0];
      };
      const a1 = await chainOf(first, 'claim-a1');
      const b1 = await chainOf(second, 'claim-b1');
      expect(b1.chain).not.toBe(a1.chain);
      // A rolled back append leaves the connection's head where it was.
      await expect(first.transaction(async (tx) => {
        await appendAudit(tx, readOf('claim-gone', 'Patient/gone'));
        throw new Error('access failed');
      })).rejects.toThrow('access failed');
      const a2 = await chainOf(first, 'claim-a2');
      expect(a2).toEqual({ chain: a1.chain, pos: Number(a1.pos) + 1 });
      // When the first connection ends, its chain is free; the next claimant continues it after its last entry.
      await first.close();
      const third = await openPostgres(url);
      try {
        await chainOf(second, 'claim-b2');
        const c1 = await chainOf(third, 'claim-c1');
        expect(c1).toEqual({ chain: a1.chain, pos: a2.pos + 1 });
      } catch (err) {
        await third.close();
        throw err;
      }
      // A connection whose first append rolled back keeps the chain it holds, even when a lower one is free by then.
      const fourth = await openPostgres(url);
      try {
        await expect(fourth.transaction(async (tx) => {
          await appendAudit(tx, readOf('claim-d0', 'Patient/d0'));
          throw new Error('access failed');
        })).rejects.toThrow('access failed');
        const held = (await fourth.query<{ chain: number }>(
          `select objid::int as chain from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() and objsubid = 2`)).rows;
        await third.close();
        const d1 = await chainOf(fourth, 'claim-d1');
        expect([d1.chain]).toEqual(held.map((h) => h.chain));
        expect(d1.chain).not.toBe(a1.chain);
      } finally {
        await fourth.close();
      }
      expect(await verifyChain(second)).toMatchObject({ ok: true, count: 6, chains: 3 });
    } finally {
      await second.close();
      await own.drop();
    }
  });

  it('keeps every chain valid when two servers append at once, and when a connection dies inside a transaction', async () => {
    const own = (await migratedPostgres(4))!;
    const other = await openPostgres({ url: PG_URL, schema: own.schema, max: 4 });
    try {
      const servers = [own.db, other];
      await Promise.all(servers.flatMap((server, s) => Array.from({ length: 4 }, (_, w) => (async () => {
        for (let i = 0; i < 15; i++) {
          await server.transaction((tx) => appendAudit(tx, i % 3 ? readOf(`s${s}w${w}`, `Observation/${i}`) : [readOf(`s${s}`, 'Patient/a'), readOf(`s${s}`, 'Patient/b')]));
        }
      })())));
      // A connection killed between its append and its commit: nothing of it is kept, and whoever claims its chain
      // next continues after the last committed entry.
      const victim = other.transaction(async (tx) => {
        await appendAudit(tx, readOf('killed', 'Patient/killed'));
        const pid = (await tx.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
        await own.db.query('select pg_terminate_backend($1)', [pid]);
        await tx.query('select 1');
      });
      await expect(victim).rejects.toThrow();
      for (let i = 0; i < 10; i++) await other.transaction((tx) => appendAudit(tx, readOf('after', `Patient/${i}`)));
      const rows = (await own.db.query<{ n: number; killed: number }>(
        `select count(*)::int as n, count(*) filter (where 'killed' = any(person_ids))::int as killed from audit_log`)).rows[0];
      expect(rows).toEqual({ n: 2 * 4 * (10 + 5 * 2) + 10, killed: 0 });
      expect(await verifyChain(own.db)).toMatchObject({ ok: true, count: rows.n });
    } finally {
      await other.close();
      await own.drop();
    }
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

  it('finds a chain deleted whole, its head row included, once a checkpoint signed it', async () => {
    const own = (await migratedPostgres(1))!;
    const second = await openPostgres({ url: PG_URL, schema: own.schema, max: 1 });
    try {
      for (let i = 0; i < 3; i++) await own.db.transaction((tx) => appendAudit(tx, readOf(`a${i}`, `Patient/a${i}`)));
      for (let i = 0; i < 3; i++) await second.transaction((tx) => appendAudit(tx, readOf(`b${i}`, `Patient/b${i}`)));
      const key = (await loadCheckpointKey(await mkdtemp(join(tmpdir(), 'audit-key-')), { create: true }))!;
      const signed = await writeCheckpoint(own.db, key);
      const victim = Math.max(...signed.map((c) => c.chain));
      expect(victim).toBeGreaterThan(1);
      expect(await verifyChain(own.db, { key })).toMatchObject({ ok: true, count: 6, chains: 2 });
      await own.db.query('alter table audit_log disable trigger all');
      await own.db.query('alter table audit_chain_head disable trigger all');
      await own.db.query('delete from audit_log where chain = $1', [victim]);
      await own.db.query('delete from audit_chain_head where id = $1', [victim]);
      await own.db.query('alter table audit_log enable trigger all');
      await own.db.query('alter table audit_chain_head enable trigger all');
      expect(await verifyChain(own.db, { key })).toMatchObject({ ok: false, problem: 'truncated', chain: victim, firstBadSeq: 1 });
    } finally {
      await second.close();
      await own.drop();
    }
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
