import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from './database.ts';
import { run } from './database.ts';
import { sql } from './sql.ts';

/** A stored row of `resources` or `resource_history`. */
export interface StoredRow {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: Date;
  deleted: boolean;
  person_id: string | null;
  /** Sensitivity labels of this version (on `resources`, of the current one). */
  security: string[];
  content: Resource;
}

export interface WriteRow {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  patientId?: string;
  personId?: string;
  sourceOrg?: string;
  security: string[];
  clinicalDate?: string;
  content: Resource;
}

const COLUMNS = sql`resource_type, id, version_id, last_updated, deleted, person_id, security, content`;

export async function readVersion(tx: Queryable, type: string, id: string, version: number): Promise<StoredRow | undefined> {
  const rows = await run<StoredRow>(
    tx,
    sql`select ${COLUMNS} from resource_history where resource_type = ${type} and id = ${id} and version_id = ${version}`,
  );
  return rows[0];
}

/** FHIR dates may be partial ("1999", "1999-11"); the timestamptz column takes their earliest day. */
function columnTimestamp(fhirDate: string | undefined): string | null {
  if (!fhirDate) return null;
  if (/^\d{4}$/.test(fhirDate)) return `${fhirDate}-01-01`;
  if (/^\d{4}-\d{2}$/.test(fhirDate)) return `${fhirDate}-01`;
  return fhirDate;
}

/** Writes a new current version and appends it to history. */
export async function writeVersion(tx: Queryable, row: WriteRow): Promise<void> {
  await writeVersions(tx, [row]);
}

/** Rows per statement: bounds the size of one statement (one JSON parameter) for very large bundles. */
const ROWS_PER_STATEMENT = 1000;

const RECORD_COLUMNS = sql`resource_type text, id text, version_id int, last_updated timestamptz, deleted boolean, patient_id text,
  person_id text, source_org text, security text[], clinical_date timestamptz, content jsonb`;

/**
 * Writes new current versions and appends them to history: one statement (both tables) per 1,000 rows.
 * The rows travel as one JSON parameter (`jsonb_to_recordset`), because each carries a text[] and a jsonb column,
 * which `unnest` of per-column arrays would flatten. Keys must be distinct within one call.
 */
export async function writeVersions(tx: Queryable, rows: WriteRow[]): Promise<void> {
  const keys = new Set(rows.map((r) => `${r.resourceType}/${r.id}`));
  if (keys.size !== rows.length) throw new Error('writeVersions: the same resource twice in one batch');
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const records = JSON.stringify(rows.slice(i, i + ROWS_PER_STATEMENT).map((row) => ({
      resource_type: row.resourceType, id: row.id, version_id: row.versionId, last_updated: row.lastUpdated, deleted: row.deleted,
      patient_id: row.patientId ?? null, person_id: row.personId ?? null, source_org: row.sourceOrg ?? null, security: row.security,
      clinical_date: columnTimestamp(row.clinicalDate), content: row.content,
    })));
    await run(
      tx,
      sql`with r as (select * from jsonb_to_recordset(${records}::jsonb) as x(${RECORD_COLUMNS})),
          ins as (
            insert into resources (resource_type, id, version_id, last_updated, deleted, patient_id, person_id, source_org, security, clinical_date, content)
            select * from r
            on conflict (resource_type, id) do update set version_id = excluded.version_id, last_updated = excluded.last_updated,
              deleted = excluded.deleted, patient_id = excluded.patient_id, person_id = excluded.person_id, source_org = excluded.source_org,
              security = excluded.security, clinical_date = excluded.clinical_date, content = excluded.content)
          insert into resource_history (resource_type, id, version_id, last_updated, deleted, person_id, security, content)
          select resource_type, id, version_id, last_updated, deleted, person_id, security, content from r`,
    );
  }
}

/** Current rows of the given keys, locked for update in key order (so concurrent writers lock in the same order). */
export async function readCurrentForUpdate(tx: Queryable, keys: Array<{ resourceType: string; id: string }>): Promise<Array<StoredRow & { source_org: string | null }>> {
  if (keys.length === 0) return [];
  return run(
    tx,
    sql`select ${COLUMNS}, source_org from resources
        where (resource_type, id) in (select * from unnest(${keys.map((k) => k.resourceType)}::text[], ${keys.map((k) => k.id)}::text[]))
        order by resource_type, id for update`,
  );
}

export interface HistoryQuery {
  type?: string;
  id?: string;
  since?: string;
  count: number;
  offset: number;
}

function historyWhere(q: HistoryQuery, filter: ReturnType<typeof sql>) {
  return sql`where ${filter}
    ${q.type ? sql`and h.resource_type = ${q.type}` : sql``}
    ${q.id ? sql`and h.id = ${q.id}` : sql``}
    ${q.since ? sql`and h.last_updated >= ${q.since}` : sql``}`;
}

/**
 * History rows newest first. `filter` is the access gate's condition over alias `r`: the current row, with the labels
 * of the version (`h`) added to its own, so a version is withheld for its own labels even after a correction dropped
 * them, and for any label the current row has gained since (relabelling).
 */
export async function readHistory(tx: Queryable, q: HistoryQuery, filter: ReturnType<typeof sql>): Promise<{ rows: StoredRow[]; total: number }> {
  const from = sql`from resource_history h join lateral (select c.resource_type, c.id, c.version_id, c.last_updated, c.deleted, c.patient_id,
      c.person_id, c.source_org, c.clinical_date, c.security || h.security as security
    from resources c where c.resource_type = h.resource_type and c.id = h.id) r on true`;
  const where = historyWhere(q, filter);
  const rows = await run<StoredRow>(
    tx,
    sql`select h.resource_type, h.id, h.version_id, h.last_updated, h.deleted, h.person_id, h.security, h.content ${from} ${where}
        order by h.last_updated desc, h.id, h.version_id desc limit ${q.count} offset ${q.offset}`,
  );
  const total = await run<{ total: number }>(tx, sql`select count(*)::int as total ${from} ${where}`);
  return { rows, total: total[0]?.total ?? 0 };
}

/** Moves a source Patient and every resource in its compartment to another person (MPI link, unlink, merge); returns the rows moved. */
export async function rehomePatient(tx: Queryable, patientId: string, personId: string): Promise<Array<{ resourceType: string; id: string }>> {
  // History follows the rows that moved, by primary key: joining resource_history against resources instead let
  // the planner scan the whole history table on every link (28 ms at 20,000 records, growing with the store).
  const moved = await run<{ resource_type: string; id: string }>(
    tx,
    sql`update resources set person_id = ${personId} where (patient_id = ${patientId} or (resource_type = 'Patient' and id = ${patientId}))
        and person_id is distinct from ${personId} returning resource_type, id`,
  );
  if (moved.length > 0) {
    await run(tx, sql`update resource_history h set person_id = ${personId}
      from unnest(${moved.map((m) => m.resource_type)}::text[], ${moved.map((m) => m.id)}::text[]) as m(resource_type, id)
      where h.resource_type = m.resource_type and h.id = m.id`);
  }
  return moved.map((m) => ({ resourceType: m.resource_type, id: m.id }));
}

/** Current content of source Patients (for MPI scoring), unfiltered: only the MPI's link store calls this. */
export async function readPatients(tx: Queryable, ids: string[]): Promise<Array<{ id: string; content: Resource }>> {
  if (ids.length === 0) return [];
  return run(tx, sql`select id, content from resources where resource_type = 'Patient' and deleted = false and id = any(${ids}::text[])`);
}
