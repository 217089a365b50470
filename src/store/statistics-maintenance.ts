import type { Database } from './database.ts';

export interface StatisticsMaintenance {
  stop(): Promise<void>;
}

export interface MaintenanceOptions {
  intervalMs?: number;
  /** PGlite: versions written since the last ANALYZE that make it due: this many plus a tenth of the history then. */
  baseRows?: number;
  log?: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

type Check = () => Promise<void>;

/**
 * Planner statistics where no autovacuum keeps them. Without fresh statistics the planner keeps planning as the
 * tables were at the last ANALYZE: measured on the bench data, 8,000 new results for one patient made the bench
 * search of that patient's glucose results 11× slower (270 → 24 searches/s, 71 ms per statement: it walked all of
 * the patient's results instead of the 250 glucose ones) until `analyze` brought it back.
 * - PGlite has no autovacuum daemon: every `intervalMs` this counts the resource versions written since the last
 *   ANALYZE (an index range on `resource_history.last_updated`) and analyzes the database when they exceed a base
 *   plus a tenth of the history.
 * - PostgreSQL: where autovacuum is off (for the server, or for a table by `autovacuum_enabled = false`), this analyzes
 *   each table of the schema that autovacuum would have analyzed by its own rule (changed rows since the last ANALYZE
 *   above the threshold plus the scale factor times the table's rows, per-table settings first), so the search tables'
 *   settings of `0014_analyze_sooner.sql` hold there too. Where autovacuum runs, the check finds nothing to do.
 */
export function startStatisticsMaintenance(db: Database, opts: MaintenanceOptions = {}): StatisticsMaintenance {
  const check = db.dialect === 'pglite' ? embeddedCheck(db, opts) : serverCheck(db, opts);
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= check()
      .catch((err: unknown) => opts.log?.warn({ err: err instanceof Error ? err.name : 'error' }, 'planner statistics not refreshed'))
      .finally(() => { running = undefined; });
  }, opts.intervalMs ?? (db.dialect === 'pglite' ? 30_000 : 10_000));
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

function embeddedCheck(db: Database, opts: MaintenanceOptions): Check {
  const baseRows = opts.baseRows ?? 500;
  let since = new Date(0);
  let tableRows = 0;
  return async () => {
    const written = Number((await db.query<{ n: number }>('select count(*)::int as n from resource_history where last_updated > $1', [since.toISOString()], { prepare: false })).rows[0].n);
    if (written < baseRows + tableRows / 10) return;
    const started = new Date();
    await db.query('analyze');
    since = started;
    tableRows = Number((await db.query<{ n: number }>(`select greatest(reltuples, 0)::bigint as n from pg_class where relname = 'resource_history' and relnamespace = current_schema()::regnamespace`)).rows[0]?.n ?? 0);
    opts.log?.info({ written, ms: Date.now() - started.getTime() }, 'planner statistics refreshed (embedded database)');
  };
}

/** Tables of this schema that autovacuum leaves alone and would have analyzed by now, as quoted names. */
const UNATTENDED_DUE = `
  select format('%I.%I', s.schemaname, s.relname) as name
  from pg_stat_user_tables s
  join pg_class c on c.oid = s.relid
  cross join lateral (select
    (select split_part(o, '=', 2) from unnest(c.reloptions) o where o like 'autovacuum\\_enabled=%') as enabled,
    (select split_part(o, '=', 2)::float8 from unnest(c.reloptions) o where o like 'autovacuum\\_analyze\\_threshold=%') as base,
    (select split_part(o, '=', 2)::float8 from unnest(c.reloptions) o where o like 'autovacuum\\_analyze\\_scale\\_factor=%') as scale) t
  where s.schemaname = current_schema()
    and (current_setting('autovacuum') = 'off' or t.enabled in ('false', 'off', 'no', '0'))
    and s.n_mod_since_analyze > coalesce(t.base, current_setting('autovacuum_analyze_threshold')::float8)
      + coalesce(t.scale, current_setting('autovacuum_analyze_scale_factor')::float8) * greatest(c.reltuples, 0)`;

function serverCheck(db: Database, opts: MaintenanceOptions): Check {
  let warned = false;
  return async () => {
    if (!warned) {
      warned = true;
      const { rows } = await db.query<{ on: boolean }>(`select current_setting('autovacuum') = 'on' as on`);
      if (!rows[0]?.on) opts.log?.warn({}, 'autovacuum is off on this PostgreSQL server: Katahdin analyzes the tables it changes itself; vacuuming is left to the operator');
    }
    const { rows } = await db.query<{ name: string }>(UNATTENDED_DUE, [], { prepare: false });
    for (const { name } of rows) {
      const started = Date.now();
      // A table's analyze runs a few times a day at most: nothing to gain from a prepared statement.
      await db.query(`analyze ${name}`, [], { prepare: false });
      opts.log?.info({ table: name.split('.').pop(), ms: Date.now() - started }, 'planner statistics refreshed (autovacuum off)');
    }
  };
}
