import type { Consent, Encounter, Resource, ServiceRequest } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import { clinicalDate } from '../privacy/clinical-date.ts';
import { consentState, NO_CHOICES, type ConsentState } from '../privacy/consent.ts';
import { intakeDecision } from '../privacy/intake.ts';
import { ownLabels, propagatingReferences } from '../privacy/labels/propagate.ts';
import { loadValueSets } from '../privacy/labels/value-sets.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import type { WritePolicy } from './hooks.ts';

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

async function recordCareRelationship(scope: GateScope, patientId: string, orgId: string, date: string, active: boolean): Promise<void> {
  await run(scope.tx, sql`insert into care_relationships (patient_id, organization_id, last_date, active)
    values (${patientId}, ${orgId}, ${date}, ${active})
    on conflict (patient_id, organization_id) do update set last_date = greatest(care_relationships.last_date, excluded.last_date), active = excluded.active`);
}

function orgId(reference: string | undefined): string | undefined {
  return /^Organization\/([^/]+)$/.exec(reference ?? '')?.[1];
}

async function encounterRelationships(scope: GateScope, e: Encounter, patientId: string, sourceOrg: string | undefined): Promise<void> {
  const date = e.period?.end ?? e.period?.start ?? scope.settings.now.toISOString();
  const active = ACTIVE_ENCOUNTER.has(e.status);
  for (const org of new Set([sourceOrg, orgId(e.serviceProvider?.reference)].filter((o): o is string => !!o))) {
    await recordCareRelationship(scope, patientId, org, date, active);
  }
}

/** A referral to an organization gives that organization a care relationship while it is active. */
async function referralRelationships(scope: GateScope, sr: ServiceRequest, patientId: string): Promise<void> {
  const active = sr.status === 'active' || sr.status === 'draft' || sr.status === 'on-hold';
  for (const p of sr.performer ?? []) {
    const org = orgId(p.reference);
    if (org) await recordCareRelationship(scope, patientId, org, sr.authoredOn ?? scope.settings.now.toISOString(), active);
  }
}

export function createWritePolicy(onOptOut: (scope: GateScope, personId: string) => Promise<void>): WritePolicy {
  return {
    async labels(scope, resource: Resource) {
      const own = ownLabels(resource, loadValueSets());
      const inherited = (await scope.labelsOf(propagatingReferences(resource))).filter((l) => SENSITIVE.has(l));
      return [...new Set([...own, ...inherited])].sort();
    },
    clinicalDate: (resource, receivedAt) => clinicalDate(resource, receivedAt),
    async intake(scope, personId, resource) {
      const state = await personPrivacy(scope, personId);
      const decision = intakeDecision(resource, state, scope.settings.now.toISOString());
      if (decision.store) return 'store';
      await run(scope.tx, sql`insert into discarded_data (day, channel, reason, resource_type, count)
        values (${scope.settings.now.toISOString().slice(0, 10)}, ${scope.ctx.clientId ?? scope.ctx.role}, ${decision.reason}, ${resource.resourceType}, 1)
        on conflict (day, channel, reason, resource_type) do update set count = discarded_data.count + 1`);
      return decision.reason;
    },
    async afterWrite(scope, resource, facts) {
      if (resource.resourceType === 'Encounter' && facts.patientId) await encounterRelationships(scope, resource, facts.patientId, facts.sourceOrg);
      if (resource.resourceType === 'ServiceRequest' && facts.patientId) await referralRelationships(scope, resource, facts.patientId);
      if (resource.resourceType === 'Consent' && facts.personId) {
        const before = await personPrivacy(scope, facts.personId);
        const after = await refreshPersonPrivacy(scope, facts.personId);
        if (after.optedOut && !before.optedOut) await onOptOut(scope, facts.personId);
      }
    },
  };
}
