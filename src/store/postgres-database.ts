import pg from 'pg';
import type { Database, Queryable, QueryOptions, QueryResult } from './database.ts';
import { StatementNames } from './statement-names.ts';

// Return timestamps as ISO text and bigint counts as numbers, the same shapes PGlite gives us.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** Hands the statement to the driver at once (so statements sent one after another keep their order on the wire). */
function send(client: pg.Pool | pg.PoolClient, names: StatementNames, text: string, values: unknown[], options: QueryOptions = {}): Promise<pg.QueryResult> {
  const name = options.prepare === false ? undefined : names.nameFor(text);
  return name ? client.query({ name, text, values }) : client.query(text, values);
}

function wrap(client: pg.Pool | pg.PoolClient, names: StatementNames): Queryable {
  return {
    async query<T>(text: string, values: unknown[] = [], options: QueryOptions = {}): Promise<QueryResult<T>> {
      const r = await send(client, names, text, values, options);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length };
    },
  };
}

export interface PostgresOptions {
  url: string;
  /** Schema to use as search_path (tests use a throwaway schema). */
  schema?: string;
  max?: number;
  /**
   * Told when a connection dies while idle in the pool (the server restarted, an administrator ended it). The pool
   * drops it and opens another when one is needed; unheard, the pool's error event would end the process.
   */
  onIdleError?: (err: Error) => void;
}

export async function openPostgres(opts: PostgresOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 10,
    // Statements issued together on one connection are sent together (a read group's reads: `ReadGroups`); each keeps
    // its own result or error, and a transaction's statements stay in order.
    pipeline: true,
    options: opts.schema ? `-c search_path=${opts.schema}` : undefined,
  });
  pool.on('error', (err) => opts.onIdleError?.(err));
  await pool.query('select 1');
  const names = new StatementNames();
  const base = wrap(pool, names);
  /** A connection for one transaction, rolled back when `fn` throws. */
  const withClient = async <T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    // A connection that dies between statements (the server restarted) reports it as an event, not through a
    // query: heard here, the transaction's next statement fails instead, and the client is destroyed, not reused.
    let lost: Error | undefined;
    const onLost = (err: Error) => {
      lost = err;
    };
    client.on('error', onLost);
    try {
      return await fn(client);
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', onLost);
      client.release(lost);
    }
  };
  return {
    dialect: 'postgres',
    query: base.query,
    async transaction(fn) {
      return withClient(async (client) => {
        await client.query('begin');
        const result = await fn(wrap(client, names));
        await client.query('commit');
        return result;
      });
    },
    async readThenWrite(fn) {
      return withClient(async (client) => {
        const begun = client.query('begin');
        // Observed below, or by the rollback when the work fails first.
        begun.catch(() => undefined);
        const { value, final } = await fn(wrap(client, names));
        await begun;
        const sent = [...final.map((st) => send(client, names, st.text, st.values)), client.query('commit')];
        const settled = await Promise.allSettled(sent);
        const failed = settled.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
        // After a failed statement COMMIT ends the transaction with a rollback, without an error of its own.
        const commit = settled[settled.length - 1] as PromiseFulfilledResult<pg.QueryResult>;
        if (commit.value.command !== 'COMMIT') throw new Error(`transaction ended with ${commit.value.command}`);
        return value;
      });
    },
    close: () => pool.end(),
  };
}
