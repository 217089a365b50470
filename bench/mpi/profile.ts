// Where do batch linking and an incremental `POST /fhir/Patient` spend their time? Seeds and batch-links N records
// (as scale.ts, timing the batch statements), then
// times every SQL statement of the probe writes (PostgreSQL only: pg.Client.query is wrapped) and prints the
// statements by total time, with EXPLAIN ANALYZE of the slowest ones when --explain is given.
// Usage: node bin/run-ts.mjs bench/mpi/profile.ts [--n 20000] [--probes 50] [--seed 1] [--explain]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { bulkRelink } from '../../src/mpi/bulk-relink.ts';
import { startTestServer } from '../../test/support/test-server.ts';
import { apiSource } from './api-load.ts';
import { recordToPatient } from './fhir-patients.ts';
import { generatePopulation } from './population.ts';
import { seedPatients } from './seed-store.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    probes: { type: 'string', default: '50' },
    seed: { type: 'string', default: '1' },
    explain: { type: 'boolean', default: false },
  },
});
const n = Number(values.n);
const probes = Number(values.probes);

interface Stat { count: number; ms: number; maxMs: number; sample: { text: string; values: unknown[] } }
let stats = new Map<string, Stat>();
let recording = false;

// Statement timing: the pg client is the one place every statement of a transaction passes through.
// The pool calls it with a callback, which must pass through untouched.
type QueryFn = (...args: unknown[]) => unknown;
const proto = pg.Client.prototype as unknown as { query: QueryFn };
const original = proto.query;
proto.query = function timed(this: unknown, ...args: unknown[]) {
  const [first, params] = args;
  // A statement run often enough is sent named, as a config object (`store/statement-names.ts`): timed too.
  const statement = typeof first === 'string' ? { text: first, values: params } : (first as { text?: unknown; values?: unknown } | null);
  if (!recording || typeof statement?.text !== 'string' || args.length > 2 || typeof args[args.length - 1] === 'function') return original.apply(this, args);
  return measure(this, args, statement.text, statement.values);
};
async function measure(self: unknown, args: unknown[], text: string, params: unknown): Promise<unknown> {
  const start = performance.now();
  try {
    return await original.apply(self, args);
  } finally {
    const ms = performance.now() - start;
    const key = text.replace(/\s+/g, ' ').slice(0, 160);
    const s = stats.get(key) ?? { count: 0, ms: 0, maxMs: 0, sample: { text, values: Array.isArray(params) ? params : [] } };
    s.count++;
    s.ms += ms;
    s.maxMs = Math.max(s.maxMs, ms);
    stats.set(key, s);
  }
}

const rows = generatePopulation({ size: n + probes, seed: Number(values.seed) });
const server = await startTestServer('postgres');
try {
  const source = await apiSource(server, 'mpi-profile');
  await seedPatients(server, source.organizationId, rows.slice(0, n).map((r) => r.record));
  recording = true;
  const report = await bulkRelink(server.services);
  recording = false;
  console.log(JSON.stringify({ n, batch: report.seconds, loadavg: loadavg()[0].toFixed(1) }));
  const batchRanked = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
  console.log('batch link, SQL by total time:');
  for (const [key, s] of batchRanked.slice(0, 15)) console.log(`${(s.ms / 1000).toFixed(2).padStart(8)} s ${String(s.count).padStart(6)}x max ${s.maxMs.toFixed(1).padStart(7)}  ${key}`);
  stats = new Map();
  const latencies: number[] = [];
  recording = true;
  for (const r of rows.slice(n)) {
    const start = performance.now();
    const res = await server.app.inject({ method: 'POST', url: '/fhir/Patient', headers: { authorization: `Bearer ${source.token}`, 'content-type': 'application/fhir+json' }, payload: JSON.stringify(recordToPatient(r.record)) });
    latencies.push(performance.now() - start);
    if (res.statusCode !== 201) throw new Error(`POST Patient failed (${res.statusCode})`);
  }
  recording = false;
  const total = latencies.reduce((a, b) => a + b, 0);
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(JSON.stringify({ probes, meanMs: (total / probes).toFixed(1), p50: sorted[Math.floor(probes / 2)].toFixed(1), max: sorted[probes - 1].toFixed(1), loadavg: loadavg()[0].toFixed(1) }));
  const ranked = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const sqlMs = ranked.reduce((a, [, s]) => a + s.ms, 0);
  console.log(`SQL ${(sqlMs / probes).toFixed(1)} ms per probe of ${(total / probes).toFixed(1)} ms`);
  for (const [key, s] of ranked.slice(0, 25)) console.log(`${(s.ms / probes).toFixed(2).padStart(8)} ms/probe ${String(s.count).padStart(6)}x max ${s.maxMs.toFixed(1).padStart(7)}  ${key}`);
  if (values.explain) {
    for (const [, s] of [...batchRanked.slice(0, 3), ...ranked.slice(0, 6)]) {
      if (!/^\s*(select|with|update|insert|delete)/i.test(s.sample.text)) continue;
      const plan = await server.services.db.transaction(async (tx) => {
        const out = await tx.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${s.sample.text}`, s.sample.values);
        throw Object.assign(new Error('rollback'), { plan: out.rows.map((r) => r['QUERY PLAN']).join('\n') });
      }).catch((e: { plan?: string }) => e.plan ?? String(e));
      console.log(`\n--- ${s.sample.text.replace(/\s+/g, ' ').slice(0, 300)}\n${plan}`);
    }
  }
} finally {
  await server.stop();
}
