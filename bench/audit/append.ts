/**
 * Audit cost figures: bytes per event and append throughput on PGlite and (when reachable) PostgreSQL.
 * Run: `node bin/run-ts.mjs bench/audit/append.ts [events]`. Uses a throwaway schema on PostgreSQL.
 */
import { appendAudit } from '../../src/audit/chain.ts';
import type { AuditInput } from '../../src/audit/types.ts';
import { verifyChain } from '../../src/audit/verify.ts';
import type { Database, Queryable } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';
import { openPglite } from '../../src/store/pglite-database.ts';
import { openPostgres } from '../../src/store/postgres-database.ts';

const N = Number(process.argv[2] ?? 2000);
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function read(i: number): AuditInput {
  return {
    ctx: {
      userId: `u-${i % 50}`, displayName: `Dr. User ${i % 50}`, role: 'clinician', organizationId: `org-${i % 7}`,
      scopes: ['user/*.rs'], purposeOfUse: 'TREAT', sourceIp: '10.1.2.3', clientId: 'katahdin-web', requestId: `r${i}`,
    },
    action: 'read', outcome: 'success', personIds: [`person-${i % 5000}`], resources: [`Observation/${100000 + i}`],
    relationship: 'encounter',
  };
}

async function timed(label: string, n: number, fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  const perSec = n / ((performance.now() - t) / 1000);
  console.log(`  ${label}: ${perSec.toFixed(0)} /s`);
  return perSec;
}

async function sizes(db: Queryable): Promise<void> {
  const r = (await db.query<{ n: number; avg_row: number; heap: number; total: number }>(
    `select count(*)::int as n, avg(pg_column_size(a.*))::int as avg_row,
            pg_relation_size('audit_log')::bigint as heap, pg_total_relation_size('audit_log')::bigint as total
       from audit_log a`,
  )).rows[0];
  const heap = Number(r.heap) / r.n;
  const total = Number(r.total) / r.n;
  console.log(`  ${r.n} rows: avg row ${r.avg_row} B, heap ${heap.toFixed(0)} B/event, heap+indexes+toast ${total.toFixed(0)} B/event` +
    ` (≈ ${(total * 1e6 / 2 ** 30).toFixed(2)} GiB per million reads)`);
}

async function bench(name: string, db: Database, concurrency: number): Promise<void> {
  console.log(`${name} (${N} events per run, concurrency ${concurrency})`);
  const perWorker = Math.floor(N / concurrency);
  const parallel = (fn: (w: number, i: number) => Promise<unknown>) =>
    Promise.all(Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; i < perWorker; i++) await fn(w, w * perWorker + i);
    }));
  const base = await timed('transactions without audit', perWorker * concurrency, () =>
    parallel(() => db.transaction((tx) => tx.query('select 1'))).then(() => undefined));
  const single = await timed('transactions with one audit event each', perWorker * concurrency, () =>
    parallel((_, i) => db.transaction(async (tx) => {
      await tx.query('select 1');
      await appendAudit(tx, read(i));
    })).then(() => undefined));
  console.log(`  → per-transaction cost of auditing: ${(1000 / single - 1000 / base).toFixed(3)} ms`);
  await timed('events/s in batches of 20 per transaction', perWorker * concurrency, () =>
    parallel((_, i) => (i % 20 === 0 ? db.transaction((tx) => appendAudit(tx, Array.from({ length: 20 }, (_, k) => read(i + k)))) : Promise.resolve()))
      .then(() => undefined));
  await sizes(db);
  const t = performance.now();
  const v = await verifyChain(db);
  console.log(`  verifyChain: ${JSON.stringify(v)} in ${((performance.now() - t) / 1000).toFixed(2)} s`);
}

const lite = await openPglite();
await migrate(lite);
await bench('PGlite (in-memory)', lite, 1);
await lite.close();

const schema = `audit_bench_${process.pid}`;
try {
  const admin = await openPostgres({ url: PG_URL, max: 1 });
  await admin.query(`create schema ${schema}`);
  const pg = await openPostgres({ url: PG_URL, schema, max: 8 });
  try {
    await migrate(pg);
    await bench('PostgreSQL', pg, 8);
  } finally {
    await pg.close();
    await admin.query(`drop schema ${schema} cascade`);
    await admin.close();
  }
} catch (err) {
  console.log(`PostgreSQL not measured: ${(err as Error).message}`);
}
