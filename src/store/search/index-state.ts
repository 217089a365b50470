import type { Database, Queryable } from '../database.ts';
import { run } from '../database.ts';
import { sql } from '../sql.ts';
import { countBatch, REINDEX_BATCH, reindexKeys, type ReindexReport, type RowKey } from './reindex.ts';

/** `reindex_state` (0024_reindex_pending.sql): the FHIR base the index rows were written for, and a pending rebuild. */
export interface IndexState {
  /** The base every index row is written for (while a rebuild is pending: is being rewritten for); null: not recorded yet. */
  base: string | null;
  pending: boolean;
  /** Why the pending (or last) rebuild was asked for; logged, so never PHI. */
  reason: string | null;
  /** The last key the pending rebuild has rewritten ('' before the first). */
  after: RowKey;
  /** Resources rewritten by the pending (or last) rebuild so far, over every process that worked on it. */
  done: number;
}

export interface RebuildProgress {
  resourceType: string;
  /** Resources rewritten by this rebuild, counting those before a restart. */
  done: number;
  /** This run's resources so far. */
  total: number;
}

type StateRow = { base: string | null; rebuild_pending: boolean; rebuild_reason: string | null; rebuild_after_type: string; rebuild_after_id: string; rebuild_done: string | number | bigint };

const STATE = sql`select base, rebuild_pending, rebuild_reason, rebuild_after_type, rebuild_after_id, rebuild_done from reindex_state`;

function toState(row: StateRow | undefined): IndexState {
  if (!row) throw new Error('reindex_state has no row: run `katahdin migrate`');
  return {
    base: row.base, pending: row.rebuild_pending, reason: row.rebuild_reason,
    after: { resource_type: row.rebuild_after_type, id: row.rebuild_after_id }, done: Number(row.rebuild_done),
  };
}

export async function readIndexState(db: Queryable): Promise<IndexState> {
  return toState((await run<StateRow>(db, STATE))[0]);
}

/** The public URL a FHIR base was derived from (`<PUBLIC_URL>/fhir`), for messages that tell the operator what to set. */
const publicUrlOf = (base: string) => base.replace(/\/fhir$/, '');

/** A server or command whose FHIR base is not the one the index was built for. The message says what to do. */
export class IndexBaseMismatch extends Error {
  constructor(readonly recorded: string, readonly wanted: string) {
    super(`the search index was built for FHIR base ${recorded}, but PUBLIC_URL gives ${wanted}. Absolute references under the `
      + `FHIR base are indexed as this server's own resources, so searches would match the wrong ones. If PUBLIC_URL is wrong, `
      + `set it back (PUBLIC_URL=${publicUrlOf(recorded)}). If the server has moved, stop every server on this database and run `
      + `\`PUBLIC_URL=${publicUrlOf(wanted)} katahdin reindex --rebase\`: it rebuilds the index for the new base (a server started `
      + 'with the new PUBLIC_URL finishes a rebuild that was cut off)');
  }
}

/**
 * Marks a rebuild of the whole index for `base` pending from the first key, recording `base` as the index's: a requested
 * `katahdin reindex`, or `--rebase` to a new base. Until it is done, a server with another base refuses to start.
 */
export async function requestRebuild(db: Queryable, opts: { base: string; reason: string }): Promise<void> {
  await run(db, sql`update reindex_state set base = ${opts.base}, rebuild_pending = true, rebuild_reason = ${opts.reason},
    rebuild_after_type = '', rebuild_after_id = '', rebuild_done = 0, rebuild_started = now(), updated_at = now()`);
}

/**
 * Records `base` as the index's when none is recorded, and returns the state. A database 0024 found data in already has
 * its rebuild pending; one where rows were written before any server recorded a base (`katahdin import` on a new
 * database) gets one, as that command's PUBLIC_URL may not have been the server's; a new one needs nothing. With
 * several processes starting at once (PostgreSQL), the first records its base and the others compare theirs with it.
 */
export async function claimBase(db: Queryable, base: string): Promise<IndexState> {
  await run(db, sql`update reindex_state s set base = ${base},
      rebuild_pending = s.rebuild_pending or d.data,
      rebuild_reason = case when s.rebuild_pending then s.rebuild_reason when d.data then 'index rows written before the FHIR base was recorded' end,
      rebuild_started = case when s.rebuild_pending then s.rebuild_started when d.data then now() end,
      updated_at = now()
    from (select exists (select 1 from resources where deleted = false) as data) d
    where s.base is null`);
  return readIndexState(db);
}

/** Current resources after the pending rebuild's cursor: what is left of it (for progress; writes may add some). */
export async function remainingCount(db: Queryable, after: RowKey): Promise<number> {
  const [{ n }] = await run<{ n: string | number | bigint }>(db, sql`select count(*) as n from resources
    where deleted = false and (resource_type, id) > (${after.resource_type}, ${after.id})`);
  return Number(n);
}

/**
 * Carries out the pending rebuild, if any, for `base` (recorded as the index's if none is), and clears the marker;
 * undefined when nothing was pending. Each batch is one transaction that locks the state row, takes the next keys
 * after its cursor, rewrites their rows (`reindexKeys`) and moves the cursor: a crash loses at most the batch in
 * flight, and the next run (a server start, `katahdin migrate` or `katahdin reindex`) resumes at the cursor. Processes
 * running it at once (PostgreSQL) take batches in turn from the one cursor instead of doing the work twice. Throws
 * `IndexBaseMismatch` when the rebuild pending is for another base (`--rebase` meanwhile).
 */
export async function rebuildPending(db: Database, opts: { base: string; batchSize?: number; onBatch?: (p: RebuildProgress) => void }): Promise<ReindexReport | undefined> {
  const batchSize = opts.batchSize ?? REINDEX_BATCH;
  const report: ReindexReport = { base: opts.base, types: {}, total: 0, batches: 0 };
  let ran = false;
  for (;;) {
    const step = await db.transaction(async (tx) => {
      const state = toState((await run<StateRow>(tx, sql`${STATE} for update`))[0]);
      if (!state.pending) return undefined;
      if (state.base === null) await run(tx, sql`update reindex_state set base = ${opts.base}`);
      else if (state.base !== opts.base) throw new IndexBaseMismatch(state.base, opts.base);
      const keys = await run<RowKey>(tx, sql`select resource_type, id from resources
        where deleted = false and (resource_type, id) > (${state.after.resource_type}, ${state.after.id})
        order by resource_type, id limit ${batchSize}`);
      if (keys.length === 0) {
        await run(tx, sql`update reindex_state set rebuild_pending = false, rebuild_after_type = '', rebuild_after_id = '', updated_at = now()`);
        return { finished: true as const };
      }
      const rows = await reindexKeys(tx, keys, opts.base);
      const last = keys[keys.length - 1];
      await run(tx, sql`update reindex_state set rebuild_after_type = ${last.resource_type}, rebuild_after_id = ${last.id},
        rebuild_done = rebuild_done + ${rows.length}, updated_at = now()`);
      return { finished: false as const, rows, done: state.done + rows.length, last };
    });
    if (!step) break;
    ran = true;
    if (step.finished) break;
    countBatch(report, step.rows);
    opts.onBatch?.({ resourceType: step.last.resource_type, done: step.done, total: report.total });
  }
  return ran ? report : undefined;
}

export interface StartLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The server's start: records its base on a new index, refuses an index built for another base (`IndexBaseMismatch`)
 * unless `followAddress` (PUBLIC_URL not set: the base follows HOST and PORT, as in development, where a changed port
 * is no mistake to refuse) — then the index is rebuilt for the new base — and carries out a pending rebuild before anything is served, logging how far it is every `everyMs` (counts, rate and
 * an estimate; never a resource id or content). Returns the rebuild's report, undefined when there was none.
 */
export async function prepareSearchIndex(db: Database, opts: { base: string; log: StartLog; followAddress?: boolean; everyMs?: number; batchSize?: number }): Promise<ReindexReport | undefined> {
  let state = await readIndexState(db);
  if (state.base === null) state = await claimBase(db, opts.base);
  if (state.base !== opts.base) {
    if (!opts.followAddress) throw new IndexBaseMismatch(state.base ?? '(not recorded)', opts.base);
    await requestRebuild(db, { base: opts.base, reason: 'the server address changed and PUBLIC_URL is not set' });
    state = await readIndexState(db);
  }
  if (!state.pending) return undefined;
  const total = state.done + (await remainingCount(db, state.after));
  opts.log.warn({ reason: state.reason, base: state.base, done: state.done, total },
    'search index rebuild before serving: HTTP and MLLP start when it is done; its progress is kept, a restart resumes it');
  const everyMs = opts.everyMs ?? 10_000;
  const started = Date.now();
  let shown = started;
  const report = await rebuildPending(db, {
    base: opts.base, batchSize: opts.batchSize,
    onBatch: (p) => {
      const now = Date.now();
      if (now - shown < everyMs) return;
      shown = now;
      const perSecond = p.total / ((now - started) / 1000);
      const left = Math.max(total - p.done, 0);
      opts.log.info({ done: p.done, total: Math.max(total, p.done), percent: Math.min(100, Math.floor((p.done / Math.max(total, 1)) * 100)), perSecond: Math.round(perSecond), etaMinutes: perSecond > 0 ? Math.ceil(left / perSecond / 60) : null },
        'search index rebuild progress');
    },
  });
  opts.log.info({ resources: report?.total ?? 0, batches: report?.batches ?? 0, seconds: Math.round((Date.now() - started) / 1000), base: opts.base }, 'search index rebuilt');
  return report;
}
