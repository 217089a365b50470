import type { AuditEvent } from '@medplum/fhirtypes';
import type { AccessContext } from '../access/context.ts';
import { run, type Queryable } from '../store/database.ts';
import { join, raw, sql, type Sql } from '../store/sql.ts';
import { AUDIT_COLUMNS, eventOfRow, type AuditRow } from './entry.ts';

/** `GET /fhir/AuditEvent` parameters (privacy officers only). Dates are ISO instants or dates; bounds inclusive. */
export interface AuditSearchParams {
  date?: [from?: string | Date, to?: string | Date];
  /** User id, OAuth client id or organization id of the agent. */
  agent?: string;
  /** Enterprise person id. */
  personId?: string;
  /** `Type/id` of a resource the event names. */
  entity?: string;
  /** Katahdin action (`read`, `search`, `break-glass`…). */
  action?: string;
  /** `success` | `denied` | `error`, or the FHIR codes 0 / 4 / 8. */
  outcome?: string;
  /** PurposeOfUse code (`TREAT`, `ETREAT`…). */
  purpose?: string;
  count: number;
  offset: number;
}

export interface AuditSearchResult {
  total: number;
  events: AuditEvent[];
}

const OUTCOME_CODES: Record<string, string> = { '0': 'success', '4': 'denied', '8': 'error', '12': 'error' };
export const MAX_AUDIT_PAGE = 1000;

function conditions(p: AuditSearchParams): Sql[] {
  const where: Sql[] = [];
  const [from, to] = p.date ?? [];
  if (from) where.push(sql`recorded >= ${new Date(from).toISOString()}::timestamptz`);
  if (to) where.push(sql`recorded <= ${new Date(to).toISOString()}::timestamptz`);
  if (p.agent) where.push(sql`(agent_user_id = ${p.agent} or agent_client = ${p.agent} or agent_org = ${p.agent})`);
  if (p.personId) where.push(sql`person_ids @> array[${p.personId}]::text[]`);
  if (p.entity) where.push(sql`entity_refs @> array[${p.entity}]::text[]`);
  if (p.action) where.push(sql`action = ${p.action}`);
  if (p.outcome) where.push(sql`outcome = ${OUTCOME_CODES[p.outcome] ?? p.outcome}`);
  if (p.purpose) where.push(sql`purpose = ${p.purpose}`);
  return where;
}

/** Only privacy officers search the log (patients get their own report; clinicians never see it). */
export function mayReadAuditLog(ctx: AccessContext): boolean {
  return ctx.role === 'privacy-officer';
}

/** Searches the log, newest first, with paging; the total counts every match. */
export async function searchAudit(db: Queryable, params: AuditSearchParams): Promise<AuditSearchResult> {
  const where = conditions(params);
  const clause = where.length ? sql` where ${join(where, ' and ')}` : sql``;
  const count = Math.min(Math.max(0, Math.trunc(params.count)), MAX_AUDIT_PAGE);
  const offset = Math.max(0, Math.trunc(params.offset));
  const [totalRow] = await run<{ n: number | string }>(db, sql`select count(*) as n from audit_log${clause}`);
  const rows = count === 0 ? [] : await run<AuditRow>(
    db,
    sql`select ${raw(AUDIT_COLUMNS)} from audit_log${clause} order by seq desc limit ${count} offset ${offset}`,
  );
  return { total: Number(totalRow.n), events: rows.map(eventOfRow) };
}
