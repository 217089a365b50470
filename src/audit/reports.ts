import type { AuditEvent } from '@medplum/fhirtypes';
import type { Queryable } from '../store/database.ts';
import { actionInWords, purposeInWords, roleInWords } from './plain-words.ts';

/**
 * What the patient access report ("who viewed my record and when") includes: successful acts that disclose
 * the record to someone else — reads, searches, history, $everything, $match, exports, notifications, document/Binary
 * downloads, operations and break-the-glass declarations — by users and by query systems. Left out: the
 * patient's own use of the portal, Katahdin's own internal jobs, writes and ingestion by submitting systems
 * (they send data, they do not view it), denied attempts (nothing was disclosed), logins and token issuance.
 */
export const REPORTED_ACTIONS = [
  'read', 'vread', 'search', 'history', 'everything', 'match', 'export', 'notify', 'document', 'binary', 'operation', 'break-glass',
] as const;

export const INTERNAL_CLIENT = 'katahdin-internal';

export interface AccessReportRow {
  /** ISO instant. */
  time: string;
  userName: string;
  role: string;
  organization: string;
  action: string;
  purpose: string;
  emergency: boolean;
}

/** Organization display names are FHIR resources the record layer stores; it passes a lookup. */
export type OrganizationLookup = (orgId: string) => string | undefined | Promise<string | undefined>;

export interface AccessReportQuery {
  /** Every enterprise person id linked to the patient. */
  personIds: string[];
  /**
   * Persons the patient's records belonged to before (a merge, a move), with when: accesses audited under such a
   * person count while the record was part of it, and only then (`earlierMemberships`).
   */
  earlier?: Array<{ personId: string; from: Date; until: Date | null }>;
  from?: Date;
  to?: Date;
}

interface ReportRow {
  recorded: Date | string;
  action: string;
  purpose: string | null;
  agent_name: string;
  agent_role: string;
  agent_org: string | null;
  entity_refs: string[];
  break_glass: boolean;
  event: string | null;
  query: string | null;
}

/** The search query an event carries (base64 in the Query entity), for wording searches. */
export function eventQuery(event: AuditEvent): string | undefined {
  const q = event.entity?.find((e) => e.role?.code === '24')?.query;
  return q ? Buffer.from(q, 'base64').toString('utf8') : undefined;
}

/** Every access to the person's records by other people and systems, oldest first. */
export async function patientAccessReport(
  db: Queryable,
  query: AccessReportQuery,
  organizationName: OrganizationLookup,
): Promise<AccessReportRow[]> {
  if (query.personIds.length === 0) return [];
  const earlier = query.earlier ?? [];
  // Every person id goes into the indexed `&&`; an earlier person's entries then count only inside its periods.
  const rows = (await db.query<ReportRow>(
    `select recorded, action, purpose, agent_name, agent_role, agent_org, entity_refs, break_glass, event, query
       from audit_log a
      where person_ids && ($1::text[] || $6::text[]) and outcome = 'success' and action = any($2::text[])
        and agent_role <> 'patient' and coalesce(agent_client, '') <> $3
        and ($4::timestamptz is null or recorded >= $4) and ($5::timestamptz is null or recorded <= $5)
        and (person_ids && $1::text[] or exists (
          select 1 from unnest($6::text[], $7::timestamptz[], $8::timestamptz[]) as e(person_id, linked_from, linked_until)
           where a.person_ids @> array[e.person_id] and a.recorded >= e.linked_from and (e.linked_until is null or a.recorded < e.linked_until)))
      order by recorded, seq`,
    [
      query.personIds, [...REPORTED_ACTIONS], INTERNAL_CLIENT, query.from?.toISOString() ?? null, query.to?.toISOString() ?? null,
      earlier.map((e) => e.personId), earlier.map((e) => e.from.toISOString()), earlier.map((e) => e.until?.toISOString() ?? null),
    ],
  )).rows;
  const orgNames = new Map<string, string>();
  const out: AccessReportRow[] = [];
  for (const r of rows) {
    const org = r.agent_org ?? '';
    if (org && !orgNames.has(org)) orgNames.set(org, (await organizationName(org)) ?? 'Unknown organization');
    // Compact entries keep the query in a column; older ones inside their stored AuditEvent.
    const searched = r.event ? eventQuery(JSON.parse(r.event) as AuditEvent) : r.query ?? undefined;
    out.push({
      time: new Date(r.recorded).toISOString(),
      userName: r.agent_name,
      role: roleInWords(r.agent_role),
      organization: org ? orgNames.get(org)! : '',
      action: actionInWords(r.action, r.entity_refs ?? [], searched),
      purpose: purposeInWords(r.purpose),
      emergency: r.break_glass,
    });
  }
  return out;
}
