import type { Resource } from '@medplum/fhirtypes';
import type { Database, Queryable } from '../database.ts';
import { run } from '../database.ts';
import { sql } from '../sql.ts';
import { writeIndex } from './index-writer.ts';

export interface ReindexOptions {
  /** This server's FHIR base (`Services.fhirBase`), exactly as the search engine's `writeIndex` passes it. */
  base: string;
  /** Only these resource types; every type when absent or empty. */
  types?: string[];
  /** Resources per transaction. */
  batchSize?: number;
  /** Called after each committed batch with the running counts. */
  onBatch?: (progress: { resourceType: string; done: number; total: number }) => void;
}

export interface ReindexReport {
  base: string;
  /** Resources reindexed per type (a requested type with none stored counts 0). */
  types: Record<string, number>;
  total: number;
  batches: number;
}

export const REINDEX_BATCH = 500;

/** A resource's key as the `resources` table names its columns; the rebuild's order and cursor. */
export type RowKey = { resource_type: string; id: string };

/**
 * `katahdin reindex`: rebuilds the search index rows of every current (non-deleted) resource with the write path's own
 * writer (`writeIndex`: delete the resource's rows, extract, insert), so the index ends as writing each resource anew
 * would leave it — after a change to extraction (absolute references under another server's base) or to the search
 * parameters. Online: one transaction per batch of keys, keyset-paged by (resource_type, id) (`reindexKeys`). Index
 * rows of resources created after a batch passed are written by their own write. Discloses nothing (no content leaves
 * the database), like `privacy relabel`, and is not audited. A whole-index rebuild that must survive a crash, and
 * knows which base to use, is `rebuildPending` (index-state.ts); this one keeps its cursor in memory (`--type`).
 */
export async function reindexAll(db: Database, opts: ReindexOptions): Promise<ReindexReport> {
  const batchSize = opts.batchSize ?? REINDEX_BATCH;
  const types = opts.types?.length ? [...new Set(opts.types)].sort() : undefined;
  const report: ReindexReport = { base: opts.base, types: Object.fromEntries((types ?? []).map((t) => [t, 0])), total: 0, batches: 0 };
  const onlyTypes = types ? sql`and resource_type = any(${types}::text[])` : sql``;
  let after: RowKey = { resource_type: '', id: '' };
  for (;;) {
    // The page's keys, unlocked: the cursor moves on even when every resource of a page was deleted meanwhile.
    const keys = await run<RowKey>(db, sql`select resource_type, id from resources
      where deleted = false and (resource_type, id) > (${after.resource_type}, ${after.id}) ${onlyTypes}
      order by resource_type, id limit ${batchSize}`);
    if (keys.length === 0) break;
    after = keys[keys.length - 1];
    const done = await db.transaction((tx) => reindexKeys(tx, keys, opts.base));
    countBatch(report, done);
    const last = done[done.length - 1] ?? keys[keys.length - 1];
    opts.onBatch?.({ resourceType: last.resource_type, done: report.types[last.resource_type] ?? 0, total: report.total });
  }
  return report;
}

/**
 * One batch, in the caller's transaction: the resources of `keys` (in key order) are locked `for update`, in key order
 * as writers lock them, and read again under the lock, so a concurrent update either committed first (its content is
 * what is indexed) or waits for the batch and writes its own rows after; a resource deleted meanwhile is skipped.
 * Rewriting a resource's rows replaces them, so running a batch again (after a crash) leaves the same rows.
 * Returns the keys of the resources reindexed.
 */
export async function reindexKeys(tx: Queryable, keys: RowKey[], base: string): Promise<RowKey[]> {
  const rows = await run<{ resource_type: string; id: string; content: Resource }>(tx, sql`select resource_type, id, content from resources
    where (resource_type, id) in (select * from unnest(${keys.map((k) => k.resource_type)}::text[], ${keys.map((k) => k.id)}::text[]))
      and deleted = false
    order by resource_type, id for update`);
  // The content's own type and id are the row's (the write path stores them so); the key decides, as it does there.
  await writeIndex(tx, rows.map((r) => ({ ...r.content, resourceType: r.resource_type, id: r.id }) as Resource), { base });
  return rows.map((r) => ({ resource_type: r.resource_type, id: r.id }));
}

/** Adds a committed batch to the report's counts. */
export function countBatch(report: ReindexReport, done: RowKey[]): void {
  report.batches++;
  for (const r of done) {
    report.types[r.resource_type] = (report.types[r.resource_type] ?? 0) + 1;
    report.total++;
  }
}

export function formatReindex(r: ReindexReport): string[] {
  const types = Object.entries(r.types).sort(([a], [b]) => a.localeCompare(b));
  return [
    ...types.map(([type, n]) => `${type}: ${n} reindexed`),
    `${r.total} resources of ${types.length} type${types.length === 1 ? '' : 's'} reindexed in ${r.batches} batch${r.batches === 1 ? '' : 'es'} (FHIR base ${r.base})`,
  ];
}

/** `katahdin reindex --type …`: progress at most every `everyMs`, then the counts; 0 (a failure throws). */
export async function reindexCommand(db: Database, opts: { base: string; types?: string[]; batchSize?: number; everyMs?: number }, print: (line: string) => void): Promise<number> {
  const everyMs = opts.everyMs ?? 2000;
  let shown = 0;
  print(`reindexing ${opts.types?.length ? opts.types.join(', ') : 'every resource type'} (FHIR base ${opts.base})`);
  const report = await reindexAll(db, {
    base: opts.base, types: opts.types, batchSize: opts.batchSize,
    onBatch: (p) => {
      if (Date.now() - shown < everyMs) return;
      shown = Date.now();
      print(`… ${p.total} resources so far (${p.resourceType}: ${p.done})`);
    },
  });
  for (const line of formatReindex(report)) print(line);
  return 0;
}
