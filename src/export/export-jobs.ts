import { randomUUID } from 'node:crypto';
import type { AccessContext, PurposeOfUse } from '../access/context.ts';
import type { Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import type { ExportLevel, ExportRequest } from './export-request.ts';

/** One output file: the resources of `type` with ids from `from` (inclusive) up to `to` (exclusive; null = the rest). */
export interface ExportFile {
  type: string;
  name: string;
  from: string;
  to: string | null;
  /** The deletions since `_since` (Bundles of DELETE entries) rather than resources. */
  deleted?: boolean;
}

export type ExportStatus = 'planning' | 'complete' | 'failed' | 'cancelled';

export interface ExportJob {
  id: string;
  requester: string;
  level: ExportLevel;
  groupId: string | null;
  types: string[] | null;
  typeFilters: Record<string, Array<Array<[string, string]>>> | null;
  patients: string[] | null;
  elements: Record<string, string[]> | null;
  since: string | null;
  transactionTime: string;
  requestUrl: string;
  purpose: PurposeOfUse;
  status: ExportStatus;
  files: ExportFile[];
  warnings: string[];
  error: string | null;
  expiresAt: string;
}

interface JobRow {
  id: string;
  requester: string;
  level: ExportLevel;
  group_id: string | null;
  types: string[] | null;
  type_filters: Record<string, Array<Array<[string, string]>>> | null;
  patients: string[] | null;
  elements: Record<string, string[]> | null;
  since: Date | string | null;
  transaction_time: Date | string;
  request_url: string;
  purpose: PurposeOfUse;
  status: ExportStatus;
  files: ExportFile[];
  warnings: string[];
  error: string | null;
  expires_at: Date | string;
}

const iso = (v: Date | string) => new Date(v).toISOString();

function jobOf(r: JobRow): ExportJob {
  return {
    id: r.id, requester: r.requester, level: r.level, groupId: r.group_id, types: r.types, typeFilters: r.type_filters, patients: r.patients, elements: r.elements, since: r.since ? iso(r.since) : null,
    transactionTime: iso(r.transaction_time), requestUrl: r.request_url, purpose: r.purpose, status: r.status, files: r.files,
    warnings: r.warnings, error: r.error, expiresAt: iso(r.expires_at),
  };
}

/** Who owns a job: the signed-in user, or the system client. Only they see its status and files. */
export function requesterOf(ctx: AccessContext): string {
  return ctx.userId ? `user:${ctx.userId}` : `client:${ctx.clientId ?? ''}`;
}

/** Records a kick-off; jobs past their expiry are removed first (they hold no resource content, only bounds). */
export async function createJob(db: Queryable, input: { ctx: AccessContext; request: ExportRequest; requestUrl: string; purpose: PurposeOfUse; now: Date; expiryHours: number }): Promise<ExportJob> {
  await run(db, sql`delete from export_jobs where expires_at < ${input.now.toISOString()}`);
  const { request } = input;
  const rows = await run<JobRow>(db, sql`insert into export_jobs
      (id, requester, level, group_id, types, type_filters, patients, elements, since, transaction_time, request_url, purpose, status, warnings, expires_at)
    values (${randomUUID()}, ${requesterOf(input.ctx)}, ${request.level}, ${request.groupId ?? null}, ${request.types ?? null}::text[],
      ${request.typeFilters ? JSON.stringify(request.typeFilters) : null}::jsonb, ${request.patients ?? null}::text[],
      ${request.elements ? JSON.stringify(request.elements) : null}::jsonb,
      ${request.since ?? null}, ${input.now.toISOString()}, ${input.requestUrl.slice(0, 2000)}, ${input.purpose}, 'planning',
      ${JSON.stringify(request.warnings)}::jsonb, ${new Date(input.now.getTime() + input.expiryHours * 3_600_000).toISOString()})
    returning *`);
  return jobOf(rows[0]);
}

/** The caller's job, unless it is unknown, someone else's, cancelled or expired (all alike: not found). */
export async function findJob(db: Queryable, id: string, ctx: AccessContext, now: Date): Promise<ExportJob | undefined> {
  const rows = await run<JobRow>(db, sql`select * from export_jobs where id = ${id} and requester = ${requesterOf(ctx)}
    and status <> 'cancelled' and expires_at > ${now.toISOString()}`);
  return rows[0] && jobOf(rows[0]);
}

export async function completeJob(db: Queryable, id: string, files: ExportFile[]): Promise<void> {
  await run(db, sql`update export_jobs set status = 'complete', files = ${JSON.stringify(files)}::jsonb where id = ${id} and status = 'planning'`);
}

export async function failJob(db: Queryable, id: string, message: string): Promise<void> {
  await run(db, sql`update export_jobs set status = 'failed', error = ${message.slice(0, 500)} where id = ${id} and status = 'planning'`);
}

/** Cancels the caller's job; false when there is no such job to cancel. */
export async function cancelJob(db: Queryable, id: string, ctx: AccessContext, now: Date): Promise<boolean> {
  const rows = await run(db, sql`update export_jobs set status = 'cancelled', files = '[]'::jsonb where id = ${id}
    and requester = ${requesterOf(ctx)} and status <> 'cancelled' and expires_at > ${now.toISOString()} returning id`);
  return rows.length > 0;
}
