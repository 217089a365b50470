import type { Resource } from '@medplum/fhirtypes';
import { withAddedLabels } from '../privacy/labels/classifier.ts';
import { labelsForNamedBinaries, passesToStoredBinary, type RowOwner } from '../privacy/labels/propagate.ts';
import { SENSITIVITY_LABELS, type SensitivityLabel } from '../privacy/labels/value-set-types.ts';
import type { Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import { raw, sql } from '../store/sql.ts';

interface CurrentRow {
  resource_type: string;
  id: string;
  version_id: number;
  security: string[] | null;
}

/**
 * Rewrites a resource's labels in place on its current version (`resources` and the matching history row, column
 * and `meta.security`): labels are metadata the HIE derives, not a change the sender made, so no new version.
 */
export async function saveLabelsInPlace(tx: Queryable, row: CurrentRow, security: string[], content: Resource): Promise<void> {
  await run(tx, sql`update resources set security = ${security}, content = ${content} where resource_type = ${row.resource_type} and id = ${row.id}`);
  await run(tx, sql`update resource_history set security = ${security}, content = ${content}
    where resource_type = ${row.resource_type} and id = ${row.id} and version_id = ${row.version_id}`);
}

/** The types whose attachments name a Binary, as the `resources_binaries_named` index (0023) lists them. */
const DOCUMENT_TYPE_NAMES: ReadonlySet<string> = new Set(['DocumentReference', 'DiagnosticReport', 'Communication', 'CommunicationRequest', 'Contract', 'Media']);
// As literals, so the planner can match the partial index's own predicate.
const DOCUMENT_TYPES = raw(`resource_type in (${[...DOCUMENT_TYPE_NAMES].map((t) => `'${t}'`).join(', ')})`);

/**
 * The sensitive labels stored, live documents pass to these Binaries (keyed `Binary/id`; see `labelsForNamedBinaries`),
 * only from documents that may label them (`passesToStoredBinary`: the Binary's own person's, or for a Binary of no
 * person its own sender's). One statement through the
 * `resources_binaries_named` index, which finds the documents naming one of them; the code decides which pass labels.
 * `base`: this server's FHIR base; with it, an absolute attachment URL names a local Binary only under it (another
 * server's `…/Binary/1` is not the local Binary 1). Without it, any absolute `…/Binary/id` counts (see `refKey`).
 */
export async function labelsFromDocuments(tx: Queryable, binaries: ReadonlyArray<{ id: string } & RowOwner>, base?: string): Promise<Map<string, SensitivityLabel[]>> {
  if (binaries.length === 0) return new Map();
  const documents = await run<{ content: Resource; security: string[]; person_id: string | null; source_org: string | null }>(tx, sql`select content, security, person_id, source_org
    from resources where ${DOCUMENT_TYPES} and binaries_named(content) && ${binaries.map((b) => b.id)}::text[] and not deleted`);
  const out = new Map<string, SensitivityLabel[]>();
  for (const binary of binaries) {
    const key = `Binary/${binary.id}`;
    const own = documents.filter((d) => passesToStoredBinary({ personId: d.person_id, sourceOrg: d.source_org }, binary));
    const labels = labelsForNamedBinaries(own.map((d) => ({ resource: d.content, labels: d.security })), base).get(key);
    if (labels) out.set(key, labels);
  }
  return out;
}

/**
 * Adds the labels documents pass to stored Binaries in place (`additions` keyed `Binary/id`; keys not stored are
 * skipped), as far as a stored document that may label the Binary gives them (`labelsFromDocuments`): a document
 * naming another person's Binary labels nothing. A deleted Binary's current row (the deletion) gains them too:
 * history reads decide on it as well. Returns what each changed Binary gained. `base` as for `labelsFromDocuments`.
 */
export async function addLabelsInPlace(tx: Queryable, additions: ReadonlyMap<string, readonly string[]>, base?: string): Promise<Array<{ key: string; added: string[] }>> {
  const ids = [...additions.keys()].map((k) => /^Binary\/([^/]+)$/.exec(k)?.[1]).filter((id): id is string => !!id);
  if (ids.length === 0) return [];
  const rows = await run<CurrentRow & { content: Resource; person_id: string | null; source_org: string | null }>(tx, sql`select resource_type, id, version_id,
      security, content, person_id, source_org from resources where resource_type = 'Binary' and id = any(${ids}::text[]) order by id for update`);
  const passed = await labelsFromDocuments(tx, rows.map((r) => ({ id: r.id, personId: r.person_id, sourceOrg: r.source_org })), base);
  const changed: Array<{ key: string; added: string[] }> = [];
  for (const row of rows) {
    const key = `Binary/${row.id}`;
    const had = row.security ?? [];
    const given: readonly string[] = passed.get(key) ?? [];
    const next = withAddedLabels(row.content, had, (additions.get(key) ?? []).filter((l) => given.includes(l)));
    if (!next) continue;
    await saveLabelsInPlace(tx, row, next.security, next.resource);
    changed.push({ key, added: next.security.filter((l) => !had.includes(l)) });
  }
  return changed;
}

/**
 * Rows that joined a person late (stored before their source Patient was known, or brought by an MPI link, move or
 * merge: `joined`) pass document labels as if they arrived now: each joined document's labels go to the stored
 * Binaries it names, and each joined Binary takes the labels of the stored documents naming it — as far as
 * `passesToStoredBinary` allows now that the rows have their person (`addLabelsInPlace`): within one person's record,
 * never to another person's Binary. Call it after the rows' `person_id` is set, in that transaction.
 * `base` as for `labelsFromDocuments`. Returns what each changed Binary gained.
 */
export async function passLabelsOnJoin(tx: Queryable, joined: ReadonlyArray<{ resourceType: string; id: string }>, base?: string): Promise<Array<{ key: string; added: string[] }>> {
  const documents = joined.filter((k) => DOCUMENT_TYPE_NAMES.has(k.resourceType));
  const additions = new Map<string, readonly string[]>();
  if (documents.length > 0) {
    const rows = await run<{ content: Resource; security: string[] | null }>(tx, sql`select content, security from resources
      where (resource_type, id) in (select * from unnest(${documents.map((k) => k.resourceType)}::text[], ${documents.map((k) => k.id)}::text[])) and not deleted`);
    for (const [key, labels] of labelsForNamedBinaries(rows.map((r) => ({ resource: r.content, labels: r.security ?? [] })), base)) additions.set(key, labels);
  }
  // A joined Binary may take any label a stored document may pass it: `addLabelsInPlace` keeps only those.
  for (const k of joined) if (k.resourceType === 'Binary') additions.set(`Binary/${k.id}`, SENSITIVITY_LABELS);
  return additions.size > 0 ? addLabelsInPlace(tx, additions, base) : [];
}
