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

/** A statement and its parameters, to be run later by whoever holds the connection. */
export interface Statement {
  text: string;
  values: unknown[];
}

export interface Database extends Queryable {
  readonly dialect: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * A transaction for work that only reads, followed by final statements that write (a read group and its audit
   * append: `ReadGroups`). On PostgreSQL BEGIN goes out with the work's first statements instead of ahead of them,
   * and COMMIT right behind the final statements, without waiting for either: two round trips fewer than
   * `transaction`. The final statements are sent only once BEGIN is known to have succeeded (its answer precedes the
   * work's); if one of them fails, nothing is committed and this throws its error.
   */
  readThenWrite<T>(fn: (tx: Queryable) => Promise<{ value: T; final: Statement[] }>): Promise<T>;
  close(): Promise<void>;
}

/** Runs a composed `sql` fragment. */
export async function run<T = Record<string, unknown>>(db: Queryable, fragment: Sql): Promise<T[]> {
  const q = toQuery(fragment);
  return (await db.query<T>(q.text, q.values, { prepare: q.prepare })).rows;
}
