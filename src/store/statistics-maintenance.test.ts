import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from './database.ts';
import { migrate } from './migrate.ts';
import { openPglite } from './pglite-database.ts';
import { startStatisticsMaintenance } from './statistics-maintenance.ts';

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
