/**
 * Deterministic interleavings for concurrency tests on PostgreSQL: a BEFORE trigger holds the first transaction that
 * writes a chosen row on an advisory lock the test's own connection holds, so the test can run a concurrent operation
 * until it commits or waits for the held one, and only then let the held one go. A sequence (not rolled back, seen by
 * every transaction at once) lets only the first writer wait.
 */
import pg from 'pg';
import { PG_URL } from './databases.ts';
import type { TestServer } from './test-server.ts';

const WAIT_MS = 30_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it gives a value (or fails after 30 s, naming `what`). */
export async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Tracks whether a promise has settled, without letting a rejection go unhandled before it is awaited. */
export function tracked<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  p.then(() => { settled = true; }, () => { settled = true; });
  return { promise: p, settled: () => settled };
}

export interface BarrierSpec {
  /** The table whose row write is held. */
  table: string;
  /** `insert` or `insert or update`. */
  events: string;
  /** The trigger's WHEN condition over `new` (test values only: it is SQL text). */
  when: string;
  /** Distinguishes the lock of this barrier from others the test may hold. */
  tag: number;
}

export class TriggerBarrier {
  private readonly client = new pg.Client({ connectionString: PG_URL });
  private readonly key = 1 + Math.floor(Math.random() * 2 ** 30);
  private schema = '';
  private readonly name: string;

  constructor(private readonly server: TestServer, private readonly spec: BarrierSpec) {
    this.name = `katahdin_test_barrier_${spec.tag}`;
  }

  async arm(): Promise<void> {
    const db = this.server.services.db;
    this.schema = (await db.query<{ s: string }>('select current_schema() as s')).rows[0].s;
    await this.client.connect();
    await this.client.query('select pg_advisory_lock($1, $2)', [this.key, this.spec.tag]);
    await db.query(`create sequence ${this.schema}.${this.name}_seq`);
    await db.query(`create function ${this.schema}.${this.name}() returns trigger language plpgsql as $$
      begin
        if nextval('${this.schema}.${this.name}_seq') = 1 then perform pg_advisory_xact_lock(${this.key}, ${this.spec.tag}); end if;
        return new;
      end $$`);
    await db.query(`create trigger ${this.name} before ${this.spec.events} on ${this.schema}.${this.spec.table} for each row
      when (${this.spec.when}) execute function ${this.schema}.${this.name}()`);
  }

  /** The backend of the transaction waiting at the barrier. */
  held(what = 'a transaction to reach the barrier'): Promise<number> {
    return until(what, async () => (await this.client.query<{ pid: number }>(
      `select pid from pg_locks where locktype = 'advisory' and not granted and classid = $1::int::oid and objid = $2 and objsubid = 2`, [this.key, this.spec.tag])).rows[0]?.pid);
  }

  /** Waits until `done()` or until some backend waits for `pid`. */
  settledOrBlockedBehind(pid: number, done: () => boolean, what = 'the concurrent operation to commit or wait for the held one'): Promise<'settled' | 'blocked'> {
    return until(what, async () => {
      if (done()) return 'settled';
      const blocked = await this.client.query(`select 1 from pg_stat_activity where $1 = any(pg_blocking_pids(pid))`, [pid]);
      return blocked.rows.length > 0 ? 'blocked' : undefined;
    });
  }

  async release(): Promise<void> {
    await this.client.query('select pg_advisory_unlock($1, $2)', [this.key, this.spec.tag]);
  }

  async disarm(): Promise<void> {
    const db = this.server.services.db;
    await db.query(`drop trigger if exists ${this.name} on ${this.schema}.${this.spec.table}`);
    await db.query(`drop function if exists ${this.schema}.${this.name}()`);
    await db.query(`drop sequence if exists ${this.schema}.${this.name}_seq`);
    await this.client.end();
  }
}
