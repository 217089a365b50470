import type { Consent, Encounter, Resource, ServiceRequest } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import { clinicalDate } from '../privacy/clinical-date.ts';
import { consentState, NO_CHOICES, type ConsentState } from '../privacy/consent.ts';
import { intakeDecision } from '../privacy/intake.ts';
import { ownLabels } from '../privacy/labels/propagate.ts';
import { loadValueSets } from '../privacy/labels/value-sets.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import type { IntakeOutcome, WritePolicy } from './hooks.ts';

const ACTIVE_ENCOUNTER = new Set(['planned', 'arrived', 'triaged', 'in-progress', 'onleave']);
const SENSITIVE = new Set(['PSY', 'HIV', 'ETH']);

/** Reads the stored privacy state of a person (maintained from their Consents by `refreshPersonPrivacy`). */
export async function personPrivacy(scope: GateScope, personId: string): Promise<ConsentState> {
  const rows = await run<{ opted_out: boolean; opted_out_at: Date | null; opt_in_date: Date | null; shared_labels: string[] }>(
    scope.tx,
    sql`select opted_out, opted_out_at, opt_in_date, shared_labels from person_privacy where person_id = ${personId}`,
  );
  const r = rows[0];
  if (!r) return NO_CHOICES;
  return {
    optedOut: r.opted_out,
    optedOutAt: r.opted_out_at?.toISOString(),
    optInDate: r.opt_in_date?.toISOString(),
    shared: r.shared_labels as ConsentState['shared'],
    history: [],
  };
}

/** Recomputes the person's privacy state from every Consent in their compartment. */
export async function refreshPersonPrivacy(scope: GateScope, personId: string): Promise<ConsentState> {
  const consents = await run<{ content: Consent }>(
    scope.tx,
    sql`select content from resources where resource_type = 'Consent' and person_id = ${personId} and deleted = false`,
  );
  const state = consentState(consents.map((c) => c.content), scope.settings.now);
  await run(scope.tx, sql`insert into person_privacy (person_id, opted_out, opted_out_at, opt_in_date, shared_labels, updated_at)
    values (${personId}, ${state.optedOut}, ${state.optedOutAt ?? null}, ${state.optInDate ?? null}, ${state.shared}, ${scope.settings.now.toISOString()})
    on conflict (person_id) do update set opted_out = excluded.opted_out, opted_out_at = excluded.opted_out_at,
      opt_in_date = excluded.opt_in_date, shared_labels = excluded.shared_labels, updated_at = excluded.updated_at`);
  return state;
}

/** The privacy state of several persons in one statement (persons without a row have made no choices). */
export async function personPrivacyMany(scope: GateScope, personIds: string[]): Promise<Map<string, ConsentState>> {
  if (personIds.length === 0) return new Map();
  const rows = await run<{ person_id: string; opted_out: boolean; opted_out_at: Date | null; opt_in_date: Date | null; shared_labels: string[] }>(
    scope.tx,
    sql`select person_id, opted_out, opted_out_at, opt_in_date, shared_labels from person_privacy where person_id = any(${personIds}::text[])`,
  );
  const found = new Map(rows.map((r) => [r.person_id, {
    optedOut: r.opted_out,
    optedOutAt: r.opted_out_at?.toISOString(),
    optInDate: r.opt_in_date?.toISOString(),
    shared: r.shared_labels as ConsentState['shared'],
    history: [],
  } satisfies ConsentState]));
  return new Map(personIds.map((p) => [p, found.get(p) ?? NO_CHOICES]));
}

interface CareFact {
  patientId: string;
  orgId: string;
  date: string;
  active: boolean;
}

/**
 * Care relationships in one upsert. Several facts about the same patient and organization collapse first (one
 * statement cannot update a row twice) into what one-by-one upserts would leave: the latest date, the last `active`.
 */
async function recordCareRelationships(scope: GateScope, facts: CareFact[]): Promise<void> {
  if (facts.length === 0) return;
  await run(scope.tx, sql`insert into care_relationships (patient_id, organization_id, last_date, active)
    select distinct on (p, o) p, o, max(d) over (partition by p, o), a
    from unnest(${facts.map((f) => f.patientId)}::text[], ${facts.map((f) => f.orgId)}::text[], ${facts.map((f) => f.date)}::timestamptz[],
      ${facts.map((f) => f.active)}::boolean[]) with ordinality as u(p, o, d, a, n)
    order by p, o, n desc
    on conflict (patient_id, organization_id) do update set last_date = greatest(care_relationships.last_date, excluded.last_date), active = excluded.active`);
}

function orgId(reference: string | undefined): string | undefined {
  return /^Organization\/([^/]+)$/.exec(reference ?? '')?.[1];
}

function encounterRelationships(scope: GateScope, e: Encounter, patientId: string, sourceOrg: string | undefined): CareFact[] {
  const date = e.period?.end ?? e.period?.start ?? scope.settings.now.toISOString();
  const active = ACTIVE_ENCOUNTER.has(e.status);
  return [...new Set([sourceOrg, orgId(e.serviceProvider?.reference)].filter((o): o is string => !!o))].map((org) => ({ patientId, orgId: org, date, active }));
}

/** A referral to an organization gives that organization a care relationship while it is active. */
function referralRelationships(scope: GateScope, sr: ServiceRequest, patientId: string): CareFact[] {
  const active = sr.status === 'active' || sr.status === 'draft' || sr.status === 'on-hold';
  return (sr.performer ?? []).flatMap((p) => {
    const org = orgId(p.reference);
    return org ? [{ patientId, orgId: org, date: sr.authoredOn ?? scope.settings.now.toISOString(), active }] : [];
  });
}

/** Counts discarded data per day, channel, reason and type: the PHI-free log of privacy-rules §2 (the data itself is never kept). */
export async function countDiscarded(scope: GateScope, discarded: Array<{ reason: IntakeOutcome; resourceType: string }>): Promise<void> {
  if (discarded.length === 0) return;
  const counts = new Map<string, { reason: string; resourceType: string; n: number }>();
  for (const d of discarded) {
    const key = `${d.reason} ${d.resourceType}`;
    counts.set(key, { ...d, n: (counts.get(key)?.n ?? 0) + 1 });
  }
  const rows = [...counts.values()];
  await run(scope.tx, sql`insert into discarded_data (day, channel, reason, resource_type, count)
    select ${scope.settings.now.toISOString().slice(0, 10)}, ${scope.ctx.clientId ?? scope.ctx.role}, r, t, n
    from unnest(${rows.map((r) => r.reason)}::text[], ${rows.map((r) => r.resourceType)}::text[], ${rows.map((r) => r.n)}::int[]) as u(r, t, n)
    on conflict (day, channel, reason, resource_type) do update set count = discarded_data.count + excluded.count`);
}

export function createWritePolicy(onOptOut: (scope: GateScope, personId: string) => Promise<void>): WritePolicy {
  return {
    ownLabels: (resource: Resource) => ownLabels(resource, loadValueSets()),
    inheritedLabels: (labels) => labels.filter((l) => SENSITIVE.has(l)),
    clinicalDate: (resource, receivedAt) => clinicalDate(resource, receivedAt),
    privacy: (scope, personIds) => personPrivacyMany(scope, personIds),
    intake(scope, resource, state) {
      const decision = intakeDecision(resource, state, scope.settings.now.toISOString());
      return decision.store ? 'store' : decision.reason;
    },
    countDiscarded,
    async afterWrite(scope, written) {
      await recordCareRelationships(scope, written.flatMap(({ resource, facts }) => {
        if (resource.resourceType === 'Encounter' && facts.patientId) return encounterRelationships(scope, resource, facts.patientId, facts.sourceOrg);
        if (resource.resourceType === 'ServiceRequest' && facts.patientId) return referralRelationships(scope, resource, facts.patientId);
        return [];
      }));
      for (const { resource, facts } of written) {
        if (resource.resourceType !== 'Consent' || !facts.personId) continue;
        const before = await personPrivacy(scope, facts.personId);
        const after = await refreshPersonPrivacy(scope, facts.personId);
        if (after.optedOut && !before.optedOut) await onOptOut(scope, facts.personId);
      }
    },
  };
}
