import type { Consent, Encounter, Resource, ServiceRequest } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import { clinicalDate } from '../privacy/clinical-date.ts';
import { consentState, NO_CHOICES, type ConsentState } from '../privacy/consent.ts';
import { intakeDecision } from '../privacy/intake.ts';
import { ownLabels } from '../privacy/labels/propagate.ts';
import { loadValueSets } from '../privacy/labels/value-sets.ts';
import { run, type Queryable } from '../store/database.ts';
import { sql, type Sql } from '../store/sql.ts';
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

/**
 * Takes transaction-scoped advisory locks on persons' privacy state: `pairs` is a query yielding `(p text, x boolean)`
 * rows, a person and whether the lock must be exclusive. Whoever works the state out from the Consents (and writes
 * it) locks the person exclusively; whoever moves rows into a person and then decides them against its state (the
 * intake of joined rows, the opt-out purge) locks it shared, so that movers do not wait for each other. Without
 * them, two transactions each read the person's Consents without the other's uncommitted ones and the last to
 * commit wrote a state ignoring the other's Consent (an opt-out shown as opted in, its newcomers' data kept).
 * All of a statement's locks are taken in one order (by key), so two lockers cannot deadlock on them. The state must
 * be read in a later statement than the lock: under READ COMMITTED a statement sees what was committed when it
 * began, not what committed while it waited.
 */
export function privacyLocks(pairs: Sql): Sql {
  return sql`select count(case when l.x then pg_advisory_xact_lock(l.k) else pg_advisory_xact_lock_shared(l.k) end)::int as locked
    from (select hashtextextended('person-privacy:' || w.p, 0) as k, bool_or(w.x) as x from (${pairs}) as w(p, x)
      where w.p is not null group by 1 order by 1) as l`;
}

/** Exclusive `privacyLocks` on known persons, as a statement of its own (none when there are none). */
export async function lockPersonPrivacy(tx: Queryable, personIds: Iterable<string>): Promise<void> {
  const persons = [...new Set(personIds)];
  if (persons.length === 0) return;
  await run(tx, privacyLocks(sql`select unnest(${persons}::text[]), true`));
}

/**
 * Recomputes the person's privacy state from every Consent in their compartment, under the person's exclusive lock
 * (held until commit), so it sees every Consent another transaction committed into the person and no other
 * recompute of the person interleaves with it. A caller recomputing several persons locks them all first, in one
 * statement (`lockPersonPrivacy`): taken one by one in the caller's order, two callers could deadlock.
 */
export async function refreshPersonPrivacy(scope: GateScope, personId: string): Promise<ConsentState> {
  await lockPersonPrivacy(scope.tx, [personId]);
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

/**
 * The privacy state a write decides its rows against, under a shared lock on each person (`privacyLocks`) held until
 * commit: an opt-out recorded meanwhile either waits for this write and then purges its rows, or commits first and
 * this write reads it (the read is a statement after the lock's). Without it, a write that read the state before an
 * opt-out committed and stored its rows after the opt-out's purge left them behind for an opted-out person. Both
 * statements go out together (pipelined on PostgreSQL): no round trip is added.
 */
async function personPrivacyForWrite(scope: GateScope, personIds: string[], choosing: ReadonlySet<string> = new Set()): Promise<Map<string, ConsentState>> {
  if (personIds.length === 0) return new Map();
  // A write bringing a Consent locks its person exclusively from the start: two such writes that each held the lock
  // shared and then asked for it exclusively (to recompute the state) deadlocked.
  const [, states] = await Promise.all([
    run(scope.tx, privacyLocks(sql`select p, p = any(${[...choosing]}::text[]) from unnest(${personIds}::text[]) as p`)),
    personPrivacyMany(scope, personIds),
  ]);
  return states;
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
    privacy: (scope, personIds, choosing) => personPrivacyForWrite(scope, personIds, choosing),
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
      const choosers = written.flatMap(({ resource, facts }) => (resource.resourceType === 'Consent' && facts.personId ? [facts.personId] : []));
      // Before the state is read: `before` too must include what a concurrent relink or link committed.
      await lockPersonPrivacy(scope.tx, choosers);
      for (const personId of choosers) {
        const before = await personPrivacy(scope, personId);
        const after = await refreshPersonPrivacy(scope, personId);
        if (after.optedOut && !before.optedOut) await onOptOut(scope, personId);
      }
    },
  };
}
