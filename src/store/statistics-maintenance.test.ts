import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from './database.ts';
import { migrate } from './migrate.ts';
import { openPglite } from './pglite-database.ts';
import { openPostgres } from './postgres-database.ts';
import { startStatisticsMaintenance } from './statistics-maintenance.ts';
import { PG_URL, postgresAvailable, throwawaySchema } from '../../test/support/databases.ts';

const pgUp = await postgresAvailable();

describe('planner statistics on the embedded database', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openPglite();
    await migrate(db);
  }, 120_000);
  afterAll(async () => db?.close());

  const lastAnalyze = async () => (await db.query<{ t: string | null }>(`select last_analyze as t from pg_stat_user_tables where relname = 'resource_history'`)).rows[0]?.t ?? null;
  const writeVersions = (n: number, from: number) => db.query(`insert into resource_history (resource_type, id, version_id, last_updated, content)
    select 'Observation', 'o' || g, 1, now(), '{}'::jsonb from generate_series($1::int, $2::int) g`, [from, from + n - 1]);

  it('analyzes once enough versions were written since the last time, and not before', async () => {
    const maintenance = startStatisticsMaintenance(db, { intervalMs: 20, baseRows: 200 });
    try {
      await writeVersions(100, 1);
      await new Promise((r) => setTimeout(r, 200));
      expect(await lastAnalyze(), 'below the threshold').toBeNull();
      await writeVersions(150, 101);
      for (let i = 0; i < 100 && !(await lastAnalyze()); i++) await new Promise((r) => setTimeout(r, 20));
      const first = await lastAnalyze();
      expect(first, 'analyzed after 250 versions').not.toBeNull();
      // The threshold is now 200 plus a tenth of the 250 rows: 20 more versions do not make it due again.
      await writeVersions(20, 1000);
      await new Promise((r) => setTimeout(r, 200));
      expect(await lastAnalyze()).toEqual(first);
    } finally {
      await maintenance.stop();
    }
  });
});

describe.skipIf(!pgUp)('planner statistics on a PostgreSQL server where autovacuum leaves a table alone', () => {
  it('analyzes a table once autovacuum would have, and only tables autovacuum does not attend', async () => {
    const schema = await throwawaySchema();
    const db = await openPostgres({ url: PG_URL, schema: new URL(schema.url).searchParams.get('schema') ?? undefined, max: 2 });
    const warnings: string[] = [];
    const log = { info: () => undefined, warn: (_o: object, m: string) => warnings.push(m) };
    try {
      // Per-table settings as in 0014_analyze_sooner.sql; `attended` has autovacuum (its analysis is the daemon's job).
      await db.query('create table unattended (n int) with (autovacuum_enabled = false, autovacuum_analyze_threshold = 300, autovacuum_analyze_scale_factor = 0)');
      await db.query('create table attended (n int) with (autovacuum_analyze_threshold = 300, autovacuum_analyze_scale_factor = 0)');
      const autovacuumOn = (await db.query<{ on: boolean }>(`select current_setting('autovacuum') = 'on' as on`)).rows[0].on;
      const lastAnalyze = async (table: string) => (await db.query<{ t: string | null }>('select last_analyze as t from pg_stat_user_tables where schemaname = current_schema() and relname = $1', [table])).rows[0]?.t ?? null;
      const insert = (table: string, n: number) => db.query(`insert into ${table} select g from generate_series(1, $1::int) g`, [n]);
      const waitForAnalyze = async (table: string, ms: number) => {
        for (let waited = 0; waited < ms && !(await lastAnalyze(table)); waited += 50) await new Promise((r) => setTimeout(r, 50));
        return lastAnalyze(table);
      };
      const maintenance = startStatisticsMaintenance(db, { intervalMs: 50, log });
      try {
        await insert('unattended', 200);
        await insert('attended', 400);
        // Changes reach the statistics views within a second or so; below its threshold the table is left as it is.
        await new Promise((r) => setTimeout(r, 1500));
        expect(await lastAnalyze('unattended'), 'below the threshold').toBeNull();
        if (!autovacuumOn) expect(await waitForAnalyze('attended', 5000), 'autovacuum off for the whole server').not.toBeNull();
        else expect(await lastAnalyze('attended'), 'left to autovacuum').toBeNull();
        await insert('unattended', 200);
        expect(await waitForAnalyze('unattended', 5000), 'analyzed after 400 changed rows').not.toBeNull();
      } finally {
        await maintenance.stop();
      }
      expect(warnings.includes('planner statistics not refreshed')).toBe(false);
      expect(warnings.some((w) => w.startsWith('autovacuum is off'))).toBe(!autovacuumOn);
    } finally {
      await db.close();
      await schema.drop();
    }
  }, 30_000);
});
