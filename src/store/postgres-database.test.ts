import { describe, expect, it } from 'vitest';
import { PG_URL, postgresAvailable, throwawaySchema } from '../../test/support/databases.ts';
import { openPostgres } from './postgres-database.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp)('PostgreSQL statement preparation', () => {
  it('prepares a statement on its fifth run and keeps answering with the new values', async () => {
    const db = await openPostgres({ url: PG_URL, max: 1 });
    try {
      const text = 'select $1::int + 1 as n';
      const prepared = () => db.query<{ n: number }>("select count(*)::int as n from pg_prepared_statements where statement = 'select $1::int + 1 as n'");
      for (let i = 1; i <= 4; i++) expect((await db.query<{ n: number }>(text, [i])).rows[0].n).toBe(i + 1);
      expect((await prepared()).rows[0].n).toBe(0);
      for (let i = 5; i <= 7; i++) expect((await db.query<{ n: number }>(text, [i])).rows[0].n).toBe(i + 1);
      expect((await prepared()).rows[0].n).toBe(1);
      // Inside a transaction the same connection's prepared statement serves too.
      expect(await db.transaction(async (tx) => (await tx.query<{ n: number }>(text, [41])).rows[0].n)).toBe(42);
    } finally {
      await db.close();
    }
  });

  it('never prepares a statement run with prepare: false', async () => {
    const db = await openPostgres({ url: PG_URL, max: 1 });
    try {
      const text = 'select $1::int * 2 as n';
      for (let i = 1; i <= 8; i++) expect((await db.query<{ n: number }>(text, [i], { prepare: false })).rows[0].n).toBe(i * 2);
      const prepared = await db.query<{ n: number }>("select count(*)::int as n from pg_prepared_statements where statement = 'select $1::int * 2 as n'");
      expect(prepared.rows[0].n).toBe(0);
    } finally {
      await db.close();
    }
  });
});

describe.skipIf(!pgUp)('PostgreSQL read-then-write transactions (pipelined BEGIN and COMMIT)', () => {
  it('commits the final statements with the work, and nothing at all when one of them fails', async () => {
    const schema = await throwawaySchema();
    const db = await openPostgres({ url: PG_URL, schema: new URL(schema.url).searchParams.get('schema') ?? undefined, max: 1 });
    try {
      await db.query('create table t (n int primary key)');
      const value = await db.readThenWrite(async (tx) => {
        // Outside a transaction block now() is the statement's own start; inside it, BEGIN's.
        await tx.query('select pg_sleep(0.002)');
        const { rows } = await tx.query<{ open: boolean }>('select now() < statement_timestamp() as open');
        return { value: rows[0].open, final: [{ text: 'insert into t values ($1)', values: [1] }, { text: 'insert into t values ($1)', values: [2] }] };
      });
      expect(value, 'the work ran inside the transaction BEGIN opened').toBe(true);
      await expect(db.readThenWrite(async () => ({
        value: 'x',
        final: [{ text: 'insert into t values ($1)', values: [3] }, { text: 'insert into t values ($1)', values: [1] }],
      }))).rejects.toThrow(/duplicate key/);
      await expect(db.readThenWrite(async (tx) => {
        await tx.query('select 1 / 0');
        return { value: 'never', final: [{ text: 'insert into t values ($1)', values: [4] }] };
      })).rejects.toThrow(/division by zero/);
      // The one connection is back in a clean state and holds exactly what was committed.
      expect((await db.query<{ n: number }>('select n from t order by n')).rows.map((r) => r.n)).toEqual([1, 2]);
      expect(await db.transaction(async (tx) => (await tx.query<{ n: number }>('select count(*)::int as n from t')).rows[0].n)).toBe(2);
    } finally {
      await db.close();
      await schema.drop();
    }
  });
});

describe.skipIf(!pgUp)('PostgreSQL connections that die', () => {
  it('survives a connection ended while idle in the pool or inside a transaction, and goes on with new ones', async () => {
    const lost: Error[] = [];
    const db = await openPostgres({ url: PG_URL, max: 1, onIdleError: (err) => lost.push(err) });
    const admin = await openPostgres({ url: PG_URL, max: 1 });
    const pidOf = async () => (await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
    try {
      const idle = await pidOf();
      await admin.query('select pg_terminate_backend($1)', [idle]);
      await expect.poll(() => lost.length).toBe(1);
      expect(await pidOf()).not.toBe(idle);
      // Between two statements of a transaction: the next statement fails, the transaction with it.
      await expect(db.transaction(async (tx) => {
        const pid = (await tx.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
        await admin.query('select pg_terminate_backend($1)', [pid]);
        await new Promise((done) => setTimeout(done, 100));
        await tx.query('select 1');
      })).rejects.toThrow();
      expect((await db.query<{ n: number }>('select 41 + 1 as n')).rows[0].n).toBe(42);
    } finally {
      await admin.close();
      await db.close();
    }
  });
});
