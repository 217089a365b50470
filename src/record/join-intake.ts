import type { Resource } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import type { SearchEngine } from '../access/search-engine.ts';
import type { ConsentState } from '../privacy/consent.ts';
import { intakeDecision, isClinicalType, withinMessage, type IntakeDecision } from '../privacy/intake.ts';
import { passLabelsOnJoin } from '../access/stored-labels.ts';
import { run } from '../store/database.ts';
import { purgeResources } from '../store/purge.ts';
import { sql } from '../store/sql.ts';
import { countDiscarded, personPrivacyMany } from './write-policy.ts';

type ResourceKey = { resourceType: string; id: string };

/**
 * privacy-rules §2–3 for data that reaches a person late: rows stored before their source Patient was known (no
 * person) or moved by an MPI link, move or merge join the person as if they arrived now, so the intake rules apply
 * to them. An opted-out person's newcomers are counted here and purged with the rest of the record by the opt-out
 * purge (`onJoinOptedOut`); after an opt-in, those dated before it are purged here. Both are counted as discarded.
 * privacy-rules §4: what stays passes document labels within the person's record as if it arrived now
 * (`passLabelsOnJoin`): a labelled document's Binary stored apart from it, before either had a person, is withheld
 * with it from this transaction on, not only after `katahdin privacy relabel`. `base`: this server's FHIR base, for
 * which attachment URLs name a local Binary (see `labelsFromDocuments`).
 */
export async function joinIntake(scope: GateScope, personId: string, joined: ResourceKey[], deleteIndex: SearchEngine['deleteIndex'], base?: string): Promise<void> {
  // A record that brings nothing clinical (a new source Patient joining its person) costs no look-up.
  if (joined.some((k) => isClinicalType(k.resourceType))) await joinIntakeMany(scope, new Map([[personId, joined]]), deleteIndex, base);
}

/**
 * `joinIntake` for rows that joined several persons at once (a batch relink's chunk, `joined` keyed by person), their
 * privacy state read in one statement, their document labels passed in one go (each row now has its person, which
 * `passLabelsOnJoin` keeps labels within). Returns the opted-out persons among them, whose records the caller purges.
 */
export async function joinIntakeMany(scope: GateScope, joined: ReadonlyMap<string, ResourceKey[]>, deleteIndex: SearchEngine['deleteIndex'], base?: string): Promise<string[]> {
  const states = await personPrivacyMany(scope, [...joined.keys()]);
  for (const [personId, state] of states) {
    const clinical = (joined.get(personId) ?? []).filter((k) => isClinicalType(k.resourceType));
    if (clinical.length > 0) await discardJoined(scope, state, clinical, deleteIndex, base);
  }
  await passLabelsOnJoin(scope.tx, [...joined.values()].flat(), base);
  return [...states].filter(([, state]) => state.optedOut).map(([personId]) => personId);
}

async function discardJoined(scope: GateScope, state: ConsentState, clinical: ResourceKey[], deleteIndex: SearchEngine['deleteIndex'], base?: string): Promise<void> {
  if (!state.optedOut && !state.optInDate) return;
  const rows = await run<{ resource_type: string; id: string; content: Resource; received: Date }>(scope.tx, sql`select resource_type, id, content,
      coalesce(clinical_date, last_updated) as received from resources
    where (resource_type, id) in (select * from unnest(${clinical.map((k) => k.resourceType)}::text[], ${clinical.map((k) => k.id)}::text[]))`);
  // A row without a clinical date was stored with the time it was received (`clinical_date`), as the intake dates it.
  const own = rows.map((r) => intakeDecision(r.content, state, r.received.toISOString()));
  const decided = withinMessage(rows.map((r) => r.content), own, (d: IntakeDecision) => d.store, base);
  const discarded = decided.flatMap(({ decision }, i) => (decision.store ? [] : [{ key: { resourceType: rows[i].resource_type, id: rows[i].id }, reason: decision.reason }]));
  await countDiscarded(scope, discarded.map((d) => ({ reason: d.reason, resourceType: d.key.resourceType })));
  if (!state.optedOut) await purgeResources(scope.tx, discarded.map((d) => d.key), deleteIndex);
}
