import type { HumanName, Organization, Patient } from '@medplum/fhirtypes';
import type { GateScope } from '../../access/gate-scope.ts';
import type { ReviewItem } from '../../audit/review.ts';
import { run } from '../../store/database.ts';
import { sql } from '../../store/sql.ts';

/** A review-queue item as the privacy officer's console shows it: who declared, from where, about whom, and why. */
export interface ReviewRow extends ReviewItem {
  userName: string;
  organization: string;
  personId: string;
  patientName?: string;
  reason?: string;
  /** When an attestation lapses. */
  expires?: string;
}

const nameText = (n: HumanName | undefined) => (n ? [...(n.given ?? []), n.family ?? ''].join(' ').trim() : '');

/**
 * Adds names to queue items: the declaring user's organization and the patient's name (one of the person's source
 * records). The names shown are demographics the officer sees, so the read is noted against those persons.
 */
export async function reviewRows(scope: GateScope, items: ReviewItem[], details: (item: ReviewItem) => { reason?: string; expires?: string }): Promise<ReviewRow[]> {
  const persons = [...new Set(items.map((i) => i.personIds[0]).filter((p): p is string => Boolean(p)))];
  const orgIds = [...new Set(items.map((i) => i.agentOrg).filter((o): o is string => Boolean(o)))];
  const orgs = new Map((await scope.rowsFor(orgIds.map((id) => ({ resource_type: 'Organization', id }))))
    .map((r) => [r.id, (r.content as Organization).name ?? '']));
  const patients = persons.length === 0 ? [] : await run<{ id: string; person_id: string; content: Patient }>(scope.tx,
    sql`select distinct on (person_id) id, person_id, content from resources
         where resource_type = 'Patient' and deleted = false and person_id = any(${persons}::text[]) order by person_id, last_updated desc`);
  const names = new Map(patients.map((p) => [p.person_id, nameText(p.content.name?.[0])]));
  if (patients.length > 0) scope.note('read', patients.map((p) => p.person_id), patients.map((p) => `Patient/${p.id}`), { detail: 'review queue: patient names' });
  return items.map((item) => {
    const personId = item.personIds[0] ?? '';
    return {
      ...item, ...details(item),
      userName: item.agentName, organization: item.agentOrg ? orgs.get(item.agentOrg) ?? 'Unknown organization' : '', personId,
      ...(names.get(personId) ? { patientName: names.get(personId) } : {}),
    };
  });
}
