import type { Database, Queryable, QueryOptions, QueryResult, Statement } from '../../src/store/database.ts';

/** Time spent per kind of statement, to explain where a request's time goes. */
export interface StatementStat {
  statement: string;
  count: number;
  totalMs: number;
}

/** A Database that records every statement (and the begin/commit overhead of each transaction) while enabled. */
export interface ProfiledDatabase extends Database {
  start(): void;
  stop(): { statements: StatementStat[]; transactions: number; totalMs: number };
}

/** Collapses literals and whitespace so equal statements with different parameters group together. */
function statementKey(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\$\d+/g, '$').replace(/\(\$(, \$)+\)/g, '($…)').slice(0, 90);
}

export function profiled(db: Database): ProfiledDatabase {
  let on = false;
  let transactions = 0;
  const stats = new Map<string, StatementStat>();
  // The key is built only while profiling: the regexes cost more than a cheap statement on the unprofiled runs.
  const note = (text: string, ms: number, key: (t: string) => string = statementKey) => {
    if (!on) return;
    const statement = key(text);
    const s = stats.get(statement) ?? { statement, count: 0, totalMs: 0 };
    s.count += 1;
    s.totalMs += ms;
    stats.set(statement, s);
  };
  const wrap = (q: Queryable): Queryable => ({
    async query<T>(text: string, values?: unknown[], options?: QueryOptions): Promise<QueryResult<T>> {
      const t0 = performance.now();
      try {
        return await q.query<T>(text, values, options);
      } finally {
        note(text, performance.now() - t0);
      }
    },
  });
  const base = wrap(db);
  /**
   * Times a transaction of either kind: the work's statements are noted as they run, and the rest (pool checkout,
   * BEGIN, COMMIT, on PGlite waiting for the single connection, and the final statements a read-then-write sends
   * pipelined with its COMMIT) under `overhead`.
   */
  const timed = async <I, O>(overhead: string, outer: (inner: (tx: Queryable) => Promise<I>) => Promise<O>, work: (tx: Queryable) => Promise<I>): Promise<O> => {
    const t0 = performance.now();
    let inner = 0;
    try {
      return await outer(async (tx) => {
        const t1 = performance.now();
        try {
          return await work(wrap(tx));
        } finally {
          inner = performance.now() - t1;
        }
      });
    } finally {
      if (on) transactions += 1;
      note(overhead, performance.now() - t0 - inner, (t) => t);
    }
  };
  return {
    dialect: db.dialect,
    query: base.query,
    transaction: (fn) => timed('(connect + begin + commit / wait for connection)', (inner) => db.transaction(inner), fn),
    readThenWrite<T>(fn: (tx: Queryable) => Promise<{ value: T; final: Statement[] }>) {
      return timed<{ value: T; final: Statement[] }, T>('(connect + begin + final statements + commit, pipelined)', (inner) => db.readThenWrite(inner), async (tx) => {
        const out = await fn(tx);
        for (const st of out.final) note(st.text, 0);
        return out;
      });
    },
    close: () => db.close(),
    start() {
      stats.clear();
      transactions = 0;
      on = true;
    },
    stop() {
      on = false;
      const statements = [...stats.values()].sort((a, b) => b.totalMs - a.totalMs);
      return { statements, transactions, totalMs: statements.reduce((n, s) => n + s.totalMs, 0) };
    },
  };
}
