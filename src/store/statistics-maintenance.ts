import type { Database } from './database.ts';

export interface StatisticsMaintenance {
  stop(): Promise<void>;
}

export interface MaintenanceOptions {
  intervalMs?: number;
  /** Versions written since the last ANALYZE that make it due: this many plus a tenth of the history then. */
  baseRows?: number;
  log?: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

/**
 * PGlite has no autovacuum daemon, so without this the planner's statistics stay as they were at the last ANALYZE:
 * measured on the bench data, 3,000 new results for one patient made its searches 4× slower (12 → 42–54 ms) until
 * `analyze` brought them back. Every `intervalMs` this counts the resource versions written since the last ANALYZE
 * (an index range on `resource_history.last_updated`) and analyzes the database when they exceed autovacuum's kind
 * of threshold (a base plus a tenth of the table). PostgreSQL servers have autovacuum: nothing is done there.
 */
export function startStatisticsMaintenance(db: Database, opts: MaintenanceOptions = {}): StatisticsMaintenance {
  if (db.dialect !== 'pglite') return { stop: async () => undefined };
  const baseRows = opts.baseRows ?? 500;
  let since = new Date(0);
  let tableRows = 0;
  let running: Promise<void> | undefined;

  const check = async () => {
    const written = Number((await db.query<{ n: number }>('select count(*)::int as n from resource_history where last_updated > $1', [since.toISOString()], { prepare: false })).rows[0].n);
    if (written < baseRows + tableRows / 10) return;
    const started = new Date();
    await db.query('analyze');
    since = started;
    tableRows = Number((await db.query<{ n: number }>(`select greatest(reltuples, 0)::bigint as n from pg_class where relname = 'resource_history' and relnamespace = current_schema()::regnamespace`)).rows[0]?.n ?? 0);
    opts.log?.info({ written, ms: Date.now() - started.getTime() }, 'planner statistics refreshed (embedded database)');
  };
  const timer = setInterval(() => {
    running ??= check()
      .catch((err: unknown) => opts.log?.warn({ err: err instanceof Error ? err.name : 'error' }, 'planner statistics not refreshed'))
      .finally(() => { running = undefined; });
  }, opts.intervalMs ?? 30_000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
