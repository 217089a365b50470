import { randomUUID } from 'node:crypto';
import type { AccessContext } from '../access/context.ts';
import { conflict, notFound } from '../fhir/outcome.ts';
import type { Database, Queryable } from '../store/database.ts';
import { appendAudit } from './chain.ts';

export type RequestChannel = 'online' | 'paper' | 'phone';

/** A patient's request for the report of who viewed their record. */
export interface AuditRequest {
  id: string;
  personId: string;
  channel: RequestChannel;
  requestedBy: string;
  requestedAt: string;
  status: 'requested' | 'fulfilled';
  fulfilledBy: string | null;
  fulfilledAt: string | null;
}

interface RequestRow {
  id: string;
  person_id: string;
  channel: RequestChannel;
  requested_by: string;
  requested_at: Date | string;
  status: 'requested' | 'fulfilled';
  fulfilled_by: string | null;
  fulfilled_at: Date | string | null;
}

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);
const actor = (ctx: AccessContext) => ctx.userId ?? ctx.clientId ?? ctx.displayName;

function toRequest(r: RequestRow): AuditRequest {
  return {
    id: r.id, personId: r.person_id, channel: r.channel, requestedBy: r.requested_by,
    requestedAt: iso(r.requested_at)!, status: r.status, fulfilledBy: r.fulfilled_by, fulfilledAt: iso(r.fulfilled_at),
  };
}

/** Records a request (the patient online, or a privacy officer/registrar for a paper or phone request); audited. */
export async function createAuditRequest(
  db: Database,
  ctx: AccessContext,
  req: { personId: string; channel: RequestChannel },
  now = new Date(),
): Promise<AuditRequest> {
  return db.transaction(async (tx) => {
    const row = (await tx.query<RequestRow>(
      `insert into audit_requests (id, person_id, channel, requested_by, requested_at) values ($1, $2, $3, $4, $5) returning *`,
      [randomUUID(), req.personId, req.channel, actor(ctx), now.toISOString()],
    )).rows[0];
    await appendAudit(tx, {
      ctx, action: 'audit-request', outcome: 'success', personIds: [req.personId], resources: [],
      detail: `audit report requested (${req.channel}) ${row.id}`,
    }, { now });
    return toRequest(row);
  });
}

export async function listAuditRequests(
  db: Queryable,
  filter: { status?: 'requested' | 'fulfilled'; personId?: string } = {},
): Promise<AuditRequest[]> {
  const rows = (await db.query<RequestRow>(
    `select * from audit_requests where ($1::text is null or status = $1) and ($2::text is null or person_id = $2)
      order by requested_at, id`,
    [filter.status ?? null, filter.personId ?? null],
  )).rows;
  return rows.map(toRequest);
}

/** Marks a request fulfilled (after the caller has produced the report); the fulfilment is audited. */
export async function fulfilAuditRequest(db: Database, ctx: AccessContext, id: string, now = new Date()): Promise<AuditRequest> {
  return db.transaction(async (tx) => {
    const row = (await tx.query<RequestRow>(
      `update audit_requests set status = 'fulfilled', fulfilled_by = $2, fulfilled_at = $3
        where id = $1 and status = 'requested' returning *`,
      [id, actor(ctx), now.toISOString()],
    )).rows[0];
    if (!row) {
      const exists = await tx.query('select 1 from audit_requests where id = $1', [id]);
      throw exists.rows.length ? conflict(`audit request ${id} was already fulfilled`) : notFound(`no audit request ${id}`);
    }
    await appendAudit(tx, {
      ctx, action: 'audit-report', outcome: 'success', personIds: [row.person_id], resources: [],
      detail: `audit request fulfilled ${id}`,
    }, { now });
    return toRequest(row);
  });
}
