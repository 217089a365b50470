import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.ts';

function wrap(q: Pick<PGlite, 'query'>): Queryable {
  return {
    async query<T>(text: string, values: unknown[] = []): Promise<QueryResult<T>> {
      const r = await q.query<T>(text, values);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
  };
}

/** Embedded PostgreSQL (WASM). `dataDir` undefined = in-memory (tests). */
export async function openPglite(dataDir?: string): Promise<Database> {
  const pg = new PGlite(dataDir);
  await pg.waitReady;
  const base = wrap(pg);
  return {
    dialect: 'pglite',
    query: base.query,
    // PGlite serialises transactions itself (one connection), which gives the same isolation as PostgreSQL here.
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx))),
    close: () => pg.close(),
  };
}
