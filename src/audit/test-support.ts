import type { AccessContext } from '../access/context.ts';
import type { Database } from '../store/database.ts';
import { migrate } from '../store/migrate.ts';
import { openPglite } from '../store/pglite-database.ts';
import { openPostgres } from '../store/postgres-database.ts';
import type { AuditInput } from './types.ts';

/** Test fixtures shared by the audit tests (not imported by production code). */
let shared: Promise<Database> | undefined;
let schemas = 0;

/**
 * A freshly migrated, empty schema on one PGlite instance per test file (starting PGlite costs seconds; a
 * schema costs one migration run). The log cannot be emptied, so every test gets its own schema.
 */
export async function migratedPglite(): Promise<Database> {
  shared ??= openPglite();
  const db = await shared;
  const schema = `t${++schemas}`;
  await db.query(`create schema ${schema}`);
  await db.query(`set search_path to ${schema}`);
  await migrate(db);
  return { ...db, close: async () => undefined };
}

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A migrated throwaway schema on PostgreSQL, or undefined when no server answers. */
export async function migratedPostgres(max = 10): Promise<{ db: Database; schema: string; drop: () => Promise<void> } | undefined> {
  const schema = `audit_test_${process.pid}_${Date.now()}`;
  let admin: Database;
  try {
    admin = await openPostgres({ url: PG_URL, max: 1 });
  } catch {
    return undefined;
  }
  await admin.query(`create schema ${schema}`);
  const db = await openPostgres({ url: PG_URL, schema, max });
  await migrate(db);
  return {
    db,
    schema,
    drop: async () => {
      await db.close();
      await admin.query(`drop schema ${schema} cascade`);
      await admin.close();
    },
  };
}

export function clinician(over: Partial<AccessContext> = {}): AccessContext {
  return {
    userId: 'u-dana', displayName: 'Dr. Dana Demo', role: 'clinician', organizationId: 'org-mercy',
    scopes: ['user/*.rs'], purposeOfUse: 'TREAT', sourceIp: '10.0.0.7', requestId: 'req-1', ...over,
  };
}

export function readOf(personId: string, resource: string, over: Partial<AuditInput> = {}): AuditInput {
  return { ctx: clinician(), action: 'read', outcome: 'success', personIds: [personId], resources: [resource], relationship: 'encounter', ...over };
}
