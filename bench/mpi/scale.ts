// MPI at scale, database-backed: a generated population is stored (bench seeding, unlinked), batch-linked with
// bulkRelink (the `mpi relink --batch` path), then further records are written one by one through
// POST /fhir/Patient (the real write path, linking inside the transaction) to measure incremental latency.
// Usage: node bin/run-ts.mjs bench/mpi/scale.ts [--db postgres|pglite] [--n 20000] [--probes 200] [--seed 1]
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { bulkRelink } from '../../src/mpi/bulk-relink.ts';
import { pairwiseMetrics } from '../../src/mpi/cluster.ts';
import { startTestServer } from '../../test/support/test-server.ts';
import { apiSource, openTaskCount, personsOf } from './api-load.ts';
import { recordToPatient } from './fhir-patients.ts';
import { generatePopulation } from './population.ts';
import { seedPatients } from './seed-store.ts';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'postgres' },
    n: { type: 'string', default: '20000' },
    probes: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
  },
});
const n = Number(values.n);
const probes = Number(values.probes);

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const log = (o: object) => console.log(JSON.stringify(o));

log({ date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), loadavg: loadavg().map((x) => x.toFixed(1)), db: values.db, n, probes });
// Only the truth and the probes' records are kept once the store is seeded: the generated population of a million
// records made this process's heap ~2 GB larger than a server's, and its major collections (hundreds of ms) landed
// in the incremental latencies measured below.
const generated = generatePopulation({ size: n + probes, seed: Number(values.seed) });
const truth = generated.map((r) => r.truthId);
const probeRecords = generated.slice(n).map((r) => r.record);
const server = await startTestServer(values.db === 'pglite' ? 'pglite' : 'postgres');
try {
  const source = await apiSource(server, 'mpi-scale');
  let t = performance.now();
  const ids = await seedPatients(server, source.organizationId, generated.slice(0, n).map((r) => r.record), (k) => process.stderr.write(`\rseeded ${k}`));
  generated.length = 0;
  log({ phase: 'seed (bench only, not a write path)', seconds: ((performance.now() - t) / 1000).toFixed(1) });

  t = performance.now();
  const report = await bulkRelink(server.services, (phase, k) => process.stderr.write(`\r${phase} ${k}   `));
  const batchS = (performance.now() - t) / 1000;
  const linkedOnly = report.seconds.read + report.seconds.link + report.seconds.write;
  log({ phase: 'batch link (bulkRelink)', records: report.records, seconds: batchS.toFixed(1), recPerS: Math.round(n / batchS), recPerSWithoutPersonResources: Math.round(n / linkedOnly), breakdown: report.seconds, personsWritten: report.personsWritten, tasks: report.tasks, peakRssMiB: Math.round(peakRss / 2 ** 20), loadavg: loadavg()[0].toFixed(1) });
  const batchMetrics = pairwiseMetrics(await personsOf(server, ids), truth.slice(0, n));
  log({ phase: 'batch accuracy', ...batchMetrics, openTasks: await openTaskCount(server) });

  const latencies: number[] = [];
  const probeIds: string[] = [];
  for (const record of probeRecords) {
    const start = performance.now();
    const res = await server.app.inject({ method: 'POST', url: '/fhir/Patient', headers: { authorization: `Bearer ${source.token}`, 'content-type': 'application/fhir+json' }, payload: JSON.stringify(recordToPatient(record)) });
    latencies.push(performance.now() - start);
    if (res.statusCode !== 201) throw new Error(`POST Patient failed (${res.statusCode})`);
    probeIds.push(res.json().id);
  }
  log({ phase: `incremental POST /fhir/Patient with ~${report.records} records present`, p50ms: quantile(latencies, 0.5).toFixed(1), p99ms: quantile(latencies, 0.99).toFixed(1), maxms: Math.max(...latencies).toFixed(1), loadavg: loadavg()[0].toFixed(1) });
  const all = pairwiseMetrics(await personsOf(server, [...ids, ...probeIds]), truth);
  log({ phase: 'accuracy after incremental arrivals', ...all, peakRssMiB: Math.round(peakRss / 2 ** 20) });
} finally {
  clearInterval(sampler);
  await server.stop();
}
