import type { Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import { KEPT_ON_OPT_OUT } from '../store/purge.ts';
import { sql } from '../store/sql.ts';

/** Keys of a trimmed Patient (purge-person.ts trimPatient): anything else is health or contact information. */
const TRIMMED_PATIENT_KEYS = new Set(['resourceType', 'id', 'meta', 'identifier', 'name', 'gender', 'birthDate', 'managingOrganization']);

/**
 * Tables whose rows about an opted-out person are allowed to stay, and why. Anything mentioning the person in a
 * table not named here is a violation, so a table added later is checked without anyone remembering to.
 */
const KEPT_TABLES: Record<string, string> = {
  audit_log: 'audit trail (kept, §2)',
  audit_requests: 'audit trail (kept, §2)',
  audit_reviews: 'audit trail (kept, §2)',
  attestations: 'access grant (audit trail)',
  break_glass: 'access grant (audit trail)',
  person_privacy: 'consent state',
  users: 'the patient’s portal account',
  signup_requests: 'the patient’s portal sign-up',
  mpi_links: 'MPI identifiers',
  mpi_link_periods: 'MPI identifiers: which person each source record belonged to, and when (for the access report)',
  mpi_block_keys: 'MPI keys of the trimmed demographics',
  mpi_tasks: 'MPI review of identities',
  mpi_not_links: 'MPI decisions',
  export_jobs: 'bulk export jobs: resource ids that bound files, never content (files are read through the gate)',
};

export interface TableFinding {
  table: string;
  /** Rows that mention the person, one of their source Patients, or a resource of theirs. */
  rows: number;
  /** Rows among them that are not allowed to survive an opt-out. */
  violations: number;
  rule: string;
}

export interface PurgeVerification {
  ok: boolean;
  personId: string;
  optedOut: boolean;
  patients: string[];
  tables: TableFinding[];
  /** Kept Patients that still hold more than name, birth date, sex and identifiers. */
  untrimmedPatients: string[];
}

const SAFE_NAME = /^[a-z_][a-z0-9_]*$/;

async function columnsByTable(db: Queryable): Promise<Map<string, Set<string>>> {
  const cols = await run<{ table_name: string; column_name: string }>(db, sql`select c.table_name, c.column_name
    from information_schema.columns c join information_schema.tables t on t.table_name = c.table_name and t.table_schema = c.table_schema
    where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'`);
  const out = new Map<string, Set<string>>();
  for (const c of cols) {
    if (!SAFE_NAME.test(c.table_name)) continue;
    if (!out.has(c.table_name)) out.set(c.table_name, new Set());
    out.get(c.table_name)!.add(c.column_name);
  }
  return out;
}

/**
 * Which rows of a table are "about" the person: a person or patient column naming them, a resource key of theirs,
 * or (for any table) the person id or a source Patient id appearing anywhere in the row's text.
 */
function mentionCondition(cols: Set<string>): string {
  const parts = [`(x.*)::text like any($3::text[])`];
  if (cols.has('person_id')) parts.push('x.person_id::text = $1');
  if (cols.has('person_ids')) parts.push('$1 = any(x.person_ids)');
  if (cols.has('patient_id')) parts.push('x.patient_id::text = any($2::text[])');
  if (cols.has('resource_type') && cols.has('id')) {
    parts.push('exists (select 1 from resources r where r.resource_type = x.resource_type and r.id = x.id and r.person_id = $1)');
  }
  // Every parameter is typed once so that PostgreSQL accepts tables that use only some of them.
  return `$1::text is not null and $2::text[] is not null and (${parts.join(' or ')})`;
}

/** Rows that may stay in a mentioning set; `false` when none may. */
function allowedCondition(table: string, cols: Set<string>): { sql: string; rule: string } {
  const kept = `array[${KEPT_ON_OPT_OUT.map((t) => `'${t}'`).join(',')}]`;
  if (table === 'resources') return { sql: `x.resource_type = any(${kept})`, rule: 'only Patient, Person, Consent' };
  if (table === 'resource_history') {
    return {
      sql: `x.resource_type = any(${kept}) and (x.resource_type <> 'Patient' or x.version_id = (select r.version_id from resources r where r.resource_type = x.resource_type and r.id = x.id))`,
      rule: 'Consent/Person versions and the current trimmed Patient version',
    };
  }
  if (table === 'ingest_messages') return { sql: 'x.raw is null', rule: 'row kept as a count, body purged' };
  if (KEPT_TABLES[table]) return { sql: 'true', rule: KEPT_TABLES[table] };
  if (cols.has('resource_type') && cols.has('id')) {
    return { sql: `x.resource_type = any(${kept})`, rule: 'index/protected rows of kept resources only' };
  }
  return { sql: 'false', rule: 'nothing may stay' };
}

/** Rows keyed by a resource that no longer exists: what a purge that forgot an index table leaves behind. */
async function orphans(db: Queryable, table: string, cols: Set<string>): Promise<number> {
  if (table === 'resources' || !(cols.has('resource_type') && cols.has('id'))) return 0;
  const r = await db.query<{ n: number }>(`select count(*)::int as n from ${table} x
    where not exists (select 1 from resources r where r.resource_type = x.resource_type and r.id = x.id)`);
  return r.rows[0]?.n ?? 0;
}

async function untrimmed(db: Queryable, personId: string): Promise<string[]> {
  const rows = await run<{ id: string; content: Record<string, unknown> }>(db,
    sql`select id, content from resources where person_id = ${personId} and resource_type = 'Patient' and deleted = false`);
  return rows.filter((r) => Object.keys(r.content).some((k) => !TRIMMED_PATIENT_KEYS.has(k))).map((r) => r.id);
}

/**
 * Verifies an opt-out purge by introspection: every base table of the schema is scanned for rows about the person
 * (information_schema, so a new table cannot escape), and each row must be one the rules allow to stay.
 * Orphaned index rows (keyed by a resource that no longer exists) count as violations of their table.
 */
export async function verifyPurge(db: Queryable, personId: string): Promise<PurgeVerification> {
  const patients = (await run<{ patient_id: string }>(db, sql`select patient_id from mpi_links where person_id = ${personId}`)).map((r) => r.patient_id);
  const privacy = await run<{ opted_out: boolean }>(db, sql`select opted_out from person_privacy where person_id = ${personId}`);
  const patterns = [personId, ...patients].map((id) => `%${id.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  const tables: TableFinding[] = [];
  for (const [table, cols] of [...(await columnsByTable(db))].sort(([a], [b]) => a.localeCompare(b))) {
    const mention = mentionCondition(cols);
    const allowed = allowedCondition(table, cols);
    const r = await db.query<{ rows: number; violations: number }>(
      `select count(*)::int as rows, count(*) filter (where not (${allowed.sql}))::int as violations from ${table} x where ${mention}`,
      [personId, patients, patterns],
    );
    const orphaned = await orphans(db, table, cols);
    const rows = (r.rows[0]?.rows ?? 0) + orphaned;
    const violations = (r.rows[0]?.violations ?? 0) + orphaned;
    if (rows > 0) tables.push({ table, rows, violations, rule: orphaned ? `${allowed.rule}; ${orphaned} orphaned rows` : allowed.rule });
  }
  const untrimmedPatients = await untrimmed(db, personId);
  const optedOut = privacy[0]?.opted_out ?? false;
  const ok = optedOut && untrimmedPatients.length === 0 && tables.every((t) => t.violations === 0);
  return { ok, personId, optedOut, patients, tables, untrimmedPatients };
}

/** Plain-text report for the CLI (ids and counts only, no PHI). */
export function formatVerification(v: PurgeVerification): string {
  const lines = [`person ${v.personId}: ${v.ok ? 'PURGE VERIFIED' : 'PURGE INCOMPLETE'}${v.optedOut ? '' : ' (person has not opted out)'}`];
  lines.push(`source patients: ${v.patients.length}`);
  for (const t of v.tables) lines.push(`${t.violations ? 'FAIL' : 'ok  '} ${t.table.padEnd(22)} ${String(t.rows).padStart(6)} rows, ${t.violations} not allowed — ${t.rule}`);
  for (const id of v.untrimmedPatients) lines.push(`FAIL Patient/${id} holds more than name, birth date, sex and identifiers`);
  return lines.join('\n');
}
