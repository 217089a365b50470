import type { AccessContext } from '../access/context.ts';
import { conflict, notFound } from '../fhir/outcome.ts';
import type { Database, Queryable } from '../store/database.ts';
import { appendAudit } from './chain.ts';

export type ReviewKind = 'break-glass' | 'attestation';

/** One break-the-glass declaration or attestation awaiting (or past) privacy-officer review. */
export interface ReviewItem {
  seq: number;
  kind: ReviewKind;
  time: string;
  agentUserId: string | null;
  agentName: string;
  agentRole: string;
  agentOrg: string | null;
  personIds: string[];
  /** The declared reason code or detail the gate recorded (no PHI). */
  detail?: string;
  /** Accesses flagged break-the-glass by the same user to the same people since the declaration. */
  flaggedAccesses: number;
  status: 'pending' | 'reviewed';
  reviewer: string | null;
  notes: string | null;
  reviewedAt: string | null;
}

interface ItemRow {
  seq: number | string;
  kind: ReviewKind;
  recorded: Date | string;
  agent_user_id: string | null;
  agent_name: string;
  agent_role: string;
  agent_org: string | null;
  person_ids: string[];
  event: string | null;
  detail: string | null;
  flagged: number | string;
  status: 'pending' | 'reviewed';
  reviewer: string | null;
  notes: string | null;
  reviewed_at: Date | string | null;
}

const ITEM_SQL = `select l.seq, r.kind, l.recorded, l.agent_user_id, l.agent_name, l.agent_role, l.agent_org, l.person_ids, l.event, l.detail,
    (select count(*) from audit_log f where f.seq > l.seq and f.break_glass and f.action <> 'break-glass'
        and f.agent_user_id is not distinct from l.agent_user_id and f.person_ids && l.person_ids) as flagged,
    r.status, r.reviewer, r.notes, r.reviewed_at
  from audit_reviews r join audit_log l on l.seq = r.event_seq`;

function toItem(r: ItemRow): ReviewItem {
  const detail = r.event ? (JSON.parse(r.event) as { outcomeDesc?: string }).outcomeDesc : r.detail ?? undefined;
  return {
    seq: Number(r.seq), kind: r.kind, time: new Date(r.recorded).toISOString(), agentUserId: r.agent_user_id,
    agentName: r.agent_name, agentRole: r.agent_role, agentOrg: r.agent_org, personIds: r.person_ids ?? [],
    ...(detail ? { detail } : {}), flaggedAccesses: Number(r.flagged), status: r.status, reviewer: r.reviewer,
    notes: r.notes, reviewedAt: r.reviewed_at ? new Date(r.reviewed_at).toISOString() : null,
  };
}

/** The review queue: break-the-glass declarations or attestations, pending first by default, oldest first. */
export async function listReviews(
  db: Queryable,
  kind: ReviewKind,
  opts: { status?: 'pending' | 'reviewed'; limit?: number } = {},
): Promise<ReviewItem[]> {
  const rows = (await db.query<ItemRow>(
    `${ITEM_SQL} where r.kind = $1 and r.status = $2 order by r.event_seq limit $3`,
    [kind, opts.status ?? 'pending', opts.limit ?? 200],
  )).rows;
  return rows.map(toItem);
}

/** Marks an item reviewed with the officer's notes; the review itself is audited in the same transaction. */
export async function markReviewed(db: Database, ctx: AccessContext, seq: number, notes: string, now = new Date()): Promise<ReviewItem> {
  return db.transaction(async (tx) => {
    const updated = await tx.query<{ kind: ReviewKind }>(
      `update audit_reviews set status = 'reviewed', reviewer = $2, notes = $3, reviewed_at = $4
        where event_seq = $1 and status = 'pending' returning kind`,
      [seq, ctx.userId ?? ctx.clientId ?? ctx.displayName, notes, now.toISOString()],
    );
    if (updated.rows.length === 0) {
      const exists = await tx.query('select 1 from audit_reviews where event_seq = $1', [seq]);
      throw exists.rows.length ? conflict(`review item ${seq} was already reviewed`) : notFound(`no review item ${seq}`);
    }
    const item = toItem((await tx.query<ItemRow>(`${ITEM_SQL} where r.event_seq = $1`, [seq])).rows[0]);
    await appendAudit(tx, {
      ctx, action: 'audit-review', outcome: 'success', personIds: item.personIds,
      resources: [`AuditEvent/${seq}`], detail: `${item.kind} reviewed`,
    }, { now });
    return item;
  });
}

export interface BreakGlassGrant {
  id: string;
  user_id: string;
  person_id: string;
  reason: string;
  created_at: Date | string;
}

/**
 * The reason given for the declaration a review item records: the grant its audit detail names, else the grant of
 * the same user and person declared closest to the event. The detail alone is not enough: free text in the audit log
 * is masked wherever nine digits look like an SSN, and a grant id (a UUID) can contain such a run.
 */
export function reasonFor(item: { detail?: string; agentUserId: string | null; personIds: string[]; time: string }, grants: BreakGlassGrant[]): string | undefined {
  const named = /break-the-glass (\S+)/.exec(item.detail ?? '')?.[1];
  const exact = grants.find((g) => g.id === named);
  if (exact) return exact.reason;
  const at = Date.parse(item.time);
  const distance = (g: BreakGlassGrant) => Math.abs(new Date(g.created_at).getTime() - at);
  return grants
    .filter((g) => g.user_id === item.agentUserId && item.personIds.includes(g.person_id))
    .sort((a, b) => distance(a) - distance(b))[0]?.reason;
}
