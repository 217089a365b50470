import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, throwawaySchema } from '../../test/support/databases.ts';
import type { Database } from './database.ts';
import { migrate } from './migrate.ts';
import { openPostgres } from './postgres-database.ts';

const onPostgres = await postgresAvailable();

// 0014_analyze_sooner.sql: a burst of one patient's results must not leave their searches planned on stale statistics
// until a tenth of a large table has changed. Found by introspection, so a new index table cannot miss the setting.
describe.runIf(onPostgres)('autovacuum analyzes the searched tables after a bounded number of changes', () => {
  let db: Database;
  let schema: Awaited<ReturnType<typeof throwawaySchema>>;
  beforeAll(async () => {
    schema = await throwawaySchema();
    db = await openPostgres({ url: schema.url.replace(/\?schema=.*$/, ''), schema: new URL(schema.url).searchParams.get('schema')! });
    await migrate(db);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    await schema?.drop();
  });

  it('sets a fixed threshold and a small scale factor on resources and every search index table', async () => {
    const rows = (await db.query<{ relname: string; reloptions: string[] | null }>(
      `select c.relname, c.reloptions from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = current_schema() and c.relkind = 'r' and (c.relname = 'resources' or c.relname like 'search\\_%')`)).rows;
    expect(rows.length).toBeGreaterThanOrEqual(8);
    for (const r of rows) {
      expect(r.reloptions ?? [], r.relname).toEqual(expect.arrayContaining(['autovacuum_analyze_scale_factor=0.001', 'autovacuum_analyze_threshold=5000']));
    }
  });
});
