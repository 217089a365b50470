import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import type { StoredRow } from '../store/resource-store.ts';
import { readCurrentForUpdate, writeVersions } from '../store/resource-store.ts';
import { sql } from '../store/sql.ts';
import type { AuditAction } from './audit-sink.ts';
import type { AccessContext } from './context.ts';
import type { FieldProtector, ProtectedValue } from './field-protector.ts';
import { authorizeWrite, type WriteInteraction } from './authorize.ts';
import type { SearchEngine } from './search-engine.ts';
import { labelsFromDocuments } from './stored-labels.ts';

export interface WriteInput {
  resource: Resource & { id: string };
  patientId?: string;
  personId?: string;
  sourceOrg?: string;
  security: string[];
  clinicalDate?: string;
  /** Expected current version for `If-Match`; undefined = no check. */
  previous?: StoredRow;
  action: 'create' | 'update';
  /** Server-derived resources (the MPI's Person) are written on behalf of whoever caused them, without a role check. */
  derived?: boolean;
}

/** What a batched write needs from the gate scope it runs in. */
export interface BatchScope {
  tx: Queryable;
  ctx: AccessContext;
  now: Date;
  protector: FieldProtector;
  engine: SearchEngine;
  note(action: AuditAction, personIds: string[], resources: string[]): void;
}

/** Resources per index statement: the index rows of 500 resources stay well within one statement's size. */
const INDEX_CHUNK = 500;

/**
 * Writes many resources in one go with the same guarantees as one-by-one writes: every resource is authorized
 * before anything is written, SSNs are sealed, and then each table gets one set-based statement for the whole
 * batch (resources + history, protected values, each search index table). New resources skip the index delete.
 * Keys must be distinct within a batch.
 */
export async function writeBatch(scope: BatchScope, inputs: WriteInput[]): Promise<Array<Resource & { id: string }>> {
  for (const input of inputs) {
    if (!input.derived) {
      const target = { sourceOrg: input.sourceOrg ?? null, personId: input.personId ?? null, content: input.resource };
      authorizeWrite(scope.ctx, input.resource.resourceType, target, input.action === 'create' ? 'c' : 'u');
    }
  }
  // A Binary written after the labelled document naming it is as sensitive as that document (a PDF or text has no
  // codes of its own): it is stored with the document's labels rather than served until `katahdin privacy relabel`.
  const binaries = inputs.filter((i) => i.resource.resourceType === 'Binary');
  const passed = await labelsFromDocuments(scope.tx, binaries.map((i) => ({ id: i.resource.id, personId: i.personId, sourceOrg: i.sourceOrg })), scope.engine.fhirBase);
  const labelled = inputs.map((input) => {
    const add = input.resource.resourceType === 'Binary' ? passed.get(`Binary/${input.resource.id}`) : undefined;
    return add ? { ...input, security: [...new Set([...input.security, ...add])].sort() } : input;
  });
  const lastUpdated = scope.now.toISOString();
  const sealed = labelled.map((input) => {
    const versionId = (input.previous?.version_id ?? 0) + 1;
    const { resource, values } = scope.protector.seal(input.resource);
    const content = {
      ...resource,
      meta: { ...resource.meta, versionId: String(versionId), lastUpdated, security: securityCodings(resource, input.security) },
    } as Resource & { id: string };
    if (!content.meta?.security?.length) delete content.meta?.security;
    return { input, versionId, content, values };
  });
  await writeVersions(scope.tx, sealed.map(({ input, versionId, content }) => ({
    resourceType: content.resourceType, id: content.id, versionId, lastUpdated, deleted: false,
    patientId: input.patientId, personId: input.personId, sourceOrg: input.sourceOrg, security: input.security,
    clinicalDate: input.clinicalDate, content,
  })));
  await writeProtectedValues(scope.tx, sealed.flatMap(({ content, values }) => values.map((v) => ({ content, v }))));
  const replaced = sealed.filter((s) => s.input.previous).map((s) => ({ resourceType: s.content.resourceType, id: s.content.id }));
  if (replaced.length > 0) await scope.engine.deleteIndex(scope.tx, replaced);
  // Every row left is new (first versions have none, replaced ones were just deleted): no delete per table.
  for (let i = 0; i < sealed.length; i += INDEX_CHUNK) {
    await scope.engine.writeIndex(scope.tx, sealed.slice(i, i + INDEX_CHUNK).map((s) => s.content), { fresh: true });
  }
  // One audit record per action for the whole batch, as a search is one record for everything it returns.
  for (const action of ['create', 'update'] as const) {
    const done = sealed.filter((s) => s.input.action === action);
    if (done.length === 0) continue;
    const persons = [...new Set(done.map((s) => s.input.personId).filter((p): p is string => !!p))];
    scope.note(action, persons, done.map((s) => `${s.content.resourceType}/${s.content.id}`));
  }
  return sealed.map((s) => s.content);
}

/** Sealed values (SSNs), one upsert for the batch; a later value of the same resource and kind wins, as one-by-one. */
async function writeProtectedValues(tx: Queryable, values: Array<{ content: Resource & { id: string }; v: ProtectedValue }>): Promise<void> {
  if (values.length === 0) return;
  const byKey = new Map(values.map((x) => [`${x.content.resourceType}/${x.content.id}/${x.v.kind}`, x]));
  const rows = [...byKey.values()];
  await run(tx, sql`insert into protected_values (resource_type, id, kind, ciphertext, hmac)
    select * from unnest(${rows.map((r) => r.content.resourceType)}::text[], ${rows.map((r) => r.content.id)}::text[], ${rows.map((r) => r.v.kind)}::text[],
      ${rows.map((r) => r.v.ciphertext)}::text[], ${rows.map((r) => r.v.hmac)}::text[])
    on conflict (resource_type, id, kind) do update set ciphertext = excluded.ciphertext, hmac = excluded.hmac`);
}

/**
 * The current rows of many resources about to be updated (`u`) or deleted (`d`) (locked, in key order), after
 * checking the caller may do so to each one that exists. Not privacy-filtered: writes are authorized instead.
 */
export async function currentRowsForWrite(
  scope: Pick<BatchScope, 'tx' | 'ctx'>,
  keys: Array<{ resourceType: string; id: string }>,
  interaction: Exclude<WriteInteraction, 'c'> = 'u',
): Promise<Map<string, StoredRow & { source_org: string | null }>> {
  const rows = await readCurrentForUpdate(scope.tx, keys);
  for (const row of rows) authorizeWrite(scope.ctx, row.resource_type, { sourceOrg: row.source_org, personId: row.person_id, content: row.content }, interaction);
  return new Map(rows.map((r) => [`${r.resource_type}/${r.id}`, r]));
}

/** Security labels of each referenced resource that exists (for label propagation on write); no content leaves. */
export async function labelsByReference(tx: Queryable, references: string[]): Promise<Map<string, string[]>> {
  const keys = [...new Set(references)].map((ref) => /^([A-Z][A-Za-z]+)\/([^/]+)$/.exec(ref)).filter((m): m is RegExpExecArray => !!m);
  if (keys.length === 0) return new Map();
  const rows = await run<{ resource_type: string; id: string; security: string[] | null }>(tx, sql`select resource_type, id, security from resources
    where (resource_type, id) in (select * from unnest(${keys.map((k) => k[1])}::text[], ${keys.map((k) => k[2])}::text[]))`);
  return new Map(rows.map((r) => [`${r.resource_type}/${r.id}`, r.security ?? []]));
}

/** The code system of the sensitivity labels in `meta.security` (the `security` column holds their codes). */
export const V3_ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

export function securityCodings(resource: Resource, labels: string[]) {
  const others = (resource.meta?.security ?? []).filter((c) => c.system !== V3_ACT_CODE);
  return [...others, ...labels.map((code) => ({ system: V3_ACT_CODE, code }))];
}
