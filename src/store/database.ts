import type { Sql } from './sql.ts';
import { toQuery } from './sql.ts';

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface QueryOptions {
  /** False: plan the statement for its values every time (see `plannedPerValues`); PostgreSQL prepares the others. */
  prepare?: boolean;
}

/** What every caller of the store sees: run a parameterized statement. */
export interface Queryable {
  query<T = Record<string, unknown>>(text: string, values?: unknown[], options?: QueryOptions): Promise<QueryResult<T>>;
}

export interface Database extends Queryable {
  readonly dialect: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Runs a composed `sql` fragment. */
export async function run<T = Record<string, unknown>>(db: Queryable, fragment: Sql): Promise<T[]> {
  const q = toQuery(fragment);
  return (await db.query<T>(q.text, q.values, { prepare: q.prepare })).rows;
}
