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

const COLUMNS = sql`resource_type, id, version_id, last_updated, deleted, person_id, content`;

export async function readCurrent(tx: Queryable, type: string, id: string, lock = false): Promise<StoredRow | undefined> {
  const rows = await run<StoredRow>(
    tx,
    lock
      ? sql`select ${COLUMNS} from resources where resource_type = ${type} and id = ${id} for update`
      : sql`select ${COLUMNS} from resources where resource_type = ${type} and id = ${id}`,
  );
  return rows[0];
}

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
  await run(
    tx,
    sql`insert into resources (resource_type, id, version_id, last_updated, deleted, patient_id, person_id, source_org, security, clinical_date, content)
        values (${row.resourceType}, ${row.id}, ${row.versionId}, ${row.lastUpdated}, ${row.deleted}, ${row.patientId ?? null},
                ${row.personId ?? null}, ${row.sourceOrg ?? null}, ${row.security}, ${columnTimestamp(row.clinicalDate)}, ${row.content})
        on conflict (resource_type, id) do update set version_id = excluded.version_id, last_updated = excluded.last_updated,
          deleted = excluded.deleted, patient_id = excluded.patient_id, person_id = excluded.person_id, source_org = excluded.source_org,
          security = excluded.security, clinical_date = excluded.clinical_date, content = excluded.content`,
  );
  await run(
    tx,
    sql`insert into resource_history (resource_type, id, version_id, last_updated, deleted, person_id, content)
        values (${row.resourceType}, ${row.id}, ${row.versionId}, ${row.lastUpdated}, ${row.deleted}, ${row.personId ?? null}, ${row.content})`,
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

/** History rows newest first. `filter` is the access gate's condition over alias `r` (joined current row) and `h`. */
export async function readHistory(tx: Queryable, q: HistoryQuery, filter: ReturnType<typeof sql>): Promise<{ rows: StoredRow[]; total: number }> {
  const from = sql`from resource_history h join resources r on r.resource_type = h.resource_type and r.id = h.id`;
  const where = historyWhere(q, filter);
  const rows = await run<StoredRow>(
    tx,
    sql`select h.resource_type, h.id, h.version_id, h.last_updated, h.deleted, h.person_id, h.content ${from} ${where}
        order by h.last_updated desc, h.id, h.version_id desc limit ${q.count} offset ${q.offset}`,
  );
  const total = await run<{ total: number }>(tx, sql`select count(*)::int as total ${from} ${where}`);
  return { rows, total: total[0]?.total ?? 0 };
}

/** Moves a source Patient and every resource in its compartment to another person (MPI link, unlink, merge). */
export async function rehomePatient(tx: Queryable, patientId: string, personId: string): Promise<number> {
  const rows = await run<{ n: number }>(
    tx,
    sql`with moved as (update resources set person_id = ${personId} where (patient_id = ${patientId} or (resource_type = 'Patient' and id = ${patientId})) and person_id is distinct from ${personId} returning 1)
        select count(*)::int as n from moved`,
  );
  await run(tx, sql`update resource_history h set person_id = ${personId} from resources r
    where r.resource_type = h.resource_type and r.id = h.id and (r.patient_id = ${patientId} or (r.resource_type = 'Patient' and r.id = ${patientId}))`);
  return rows[0]?.n ?? 0;
}

/** Current content of source Patients (for MPI scoring), unfiltered: only the MPI's link store calls this. */
export async function readPatients(tx: Queryable, ids: string[]): Promise<Array<{ id: string; content: Resource }>> {
  if (ids.length === 0) return [];
  return run(tx, sql`select id, content from resources where resource_type = 'Patient' and deleted = false and id = any(${ids}::text[])`);
}
