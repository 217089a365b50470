import pg from 'pg';

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let available: boolean | undefined;

/** Whether the PostgreSQL server for tests answers; when it does not, suites print a notice and skip it. */
export async function postgresAvailable(): Promise<boolean> {
  if (available !== undefined) return available;
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    available = true;
  } catch {
    available = false;
    console.warn(`NOTICE: PostgreSQL not reachable at ${PG_URL}: PostgreSQL variants of the tests are skipped`);
  } finally {
    await client.end().catch(() => undefined);
  }
  return available;
}

/** The database kinds every integration suite runs against. */
export async function databaseKinds(): Promise<Array<'pglite' | 'postgres'>> {
  return (await postgresAvailable()) ? ['pglite', 'postgres'] : ['pglite'];
}

/** A throwaway schema; returns the DATABASE_URL selecting it and a function that drops it. */
export async function throwawaySchema(): Promise<{ url: string; drop: () => Promise<void> }> {
  const schema = `t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`create schema ${schema}`);
  await client.end();
  return {
    url: `${PG_URL}?schema=${schema}`,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema ${schema} cascade`);
      await c.end();
    },
  };
}
