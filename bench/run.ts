// `npm run bench`: FHIR API throughput against the real server on 127.0.0.1, on PGlite and PostgreSQL, in one run:
// a bare-route baseline, read, search, create and Synthea bundle ingest, plus the cost of authorization, privacy
// filtering and audit on the same routes. Prints a table and rewrites the FHIR API / Authorization / Audit sections
// of docs/PERFORMANCE.md. Options: --duration <s> (per autocannon run, default 3), --rounds <n> (default 4: more, shorter runs average out this shared
// machine's swings between runs of one setup),
// --db pglite|postgres, --no-write, --ops read,search,create (a subset, for development; needs --no-write). Without --db each database runs in its own child process (so the memory
// figure of one is not inflated by the other) and this process collects the reports.
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { postgresAvailable } from '../test/support/databases.ts';
import { INGEST_BUNDLES, INGEST_WARMUP, loadBenchData } from './http/data.ts';
import { MemorySampler } from './http/load.ts';
import {
  AUDIT_LAYERS, AUTH_LAYERS, baselineRps, costs, ingestProfileLines, machine, machineLine, profileLines, resultsTable, targets, writeSections,
  type DbReport, type Machine,
} from './http/report.ts';
import { ANALYSIS } from './http/analysis.ts';
import { gateAb, gateAbLines } from './http/gate-ab.ts';
import { auditVolume, runScenarios, type Operation } from './http/scenarios.ts';
import { startStack, type DbKind } from './http/stack.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '3' }, rounds: { type: 'string', default: '4' }, db: { type: 'string' },
    'no-write': { type: 'boolean', default: false }, report: { type: 'string' }, ops: { type: 'string' },
  },
});
const duration = Number(args.duration);
const rounds = Number(args.rounds);
const connections = 10;
const ops = args.ops?.split(',') as Operation[] | undefined;
if (ops && !args['no-write']) throw new Error('--ops measures a subset: use it with --no-write');

async function benchDatabase(kind: DbKind): Promise<DbReport> {
  const memory = new MemorySampler();
  memory.start();
  console.log(`\n[${kind}] starting server and loading data…`);
  const stack = await startStack(kind);
  try {
    const startedRssMb = process.memoryUsage().rss / 2 ** 20;
    const data = await loadBenchData(stack);
    if (data.ingest) console.log(`  ingest: ${data.ingest.resources} resources in ${data.ingest.bundles} bundles, ${data.ingest.seconds.toFixed(1)} s (${(data.ingest.resources / data.ingest.seconds).toFixed(0)}/s), ${data.ingest.failures} failed`);
    const { results, profiles } = await runScenarios(stack, data, { duration, connections, rounds, ops });
    console.log(`  [${kind}] authorization in process (gate only, clinician vs internal context)…`);
    const gate = await gateAb(stack, data, (['read', 'search'] as const).filter((op) => !ops || ops.includes(op)));
    for (const line of gateAbLines(gate)) console.log(`  ${line}`);
    const audit = await auditVolume(stack);
    return { db: kind, results, profiles, ingest: data.ingest, peakRssMb: memory.stop() / 2 ** 20, startedRssMb, audit, searchTotal: data.searchTotal, gate };
  } finally {
    memory.stop();
    await stack.close();
  }
}

function fhirSection(m: Machine, reports: DbReport[], skipped: string[]): string[] {
  const out = [
    '`npm run bench` (bench/run.ts). The real server assembly on 127.0.0.1 with autocannon in a separate process, ' +
      `${connections} connections, ${duration} s per autocannon run, ${rounds} rounds (every other one in reverse order, so load drift on the shared machine hits every setup alike; the table shows the mean and the min–max of the rounds); PGlite in memory and PostgreSQL 127.0.0.1:5432 in a throwaway schema.`,
    '',
    machineLine(m),
    '',
    '- **baseline**: a bare Fastify route in the same server reading one `resources` row by primary key through the same `Database` object and sending its JSON.',
    '- **read**: `GET /fhir/Observation/{id}` as a clinician of the sending organization (care relationship via a recent encounter).',
    '- **search**: `Observation?subject=Patient/{id}&code=http://loinc.org|2345-7&date=ge…&_count=20` (default `_total=accurate`: the total comes with the page, `count(*) over ()`), 20 of 250 results.',
    '- **create**: `POST /fhir/Observation` by the organization\'s EHR system client (SMART backend token).',
    `- **bundle ingest**: the first ${INGEST_BUNDLES} (by file name) of the 40 Synthea patient transaction bundles (\`../shared/corpora/synthea-r4\`), POSTed two at a time by the EHR client to \`POST /fhir\` as the files' text, after the last ${INGEST_WARMUP} as an untimed warm-up; wall-clock resources/s. (Until 2026-12-06 evening: the first 6 bundles, cold, with the client parsing and re-serialising each in the server's process.)`,
    '- Memory: peak `process.memoryUsage().rss`, sampled every 200 ms, of the server process (one process per database) from start-up to the end of its runs; for PGlite this includes the in-memory database itself, for PostgreSQL the database server\'s own processes are not counted.',
    '- Request logging is at `warn` in the bench (the default `info` writes one log line per request).',
    ...skipped.map((s) => `- ${s}`),
  ];
  for (const r of reports) {
    out.push('', `### ${r.db}`, '', ...resultsTable(r), '');
    if (r.ingest) out.push(`Bundle ingest: ${r.ingest.resources} resources in ${r.ingest.bundles} bundles in ${r.ingest.seconds.toFixed(1)} s = **${(r.ingest.resources / r.ingest.seconds).toFixed(0)} resources/s** (${r.ingest.failures} bundles failed).`, '');
    out.push(...targets(r), '', `RSS after start-up (definitions loaded, migrations run, before any data): ${r.startedRssMb.toFixed(0)} MB.`);
  }
  out.push('', '### Where the time goes', '', 'SQL statements of one extra run of each production setup (after the measured rounds, not counted in them: profiling costs the server CPU per statement), timed in the `Database` wrapper; times include waiting for locks and for a connection, summed over the concurrent requests.', '');
  for (const r of reports) {
    for (const p of r.profiles) out.push(...profileLines(p).map((l) => (l.startsWith('  ') ? l : `- ${l}`)));
    if (r.ingest) out.push(...ingestProfileLines(r.db, r.ingest).map((l) => (l.startsWith('  ') ? l : `- ${l}`)));
  }
  out.push('', ...ANALYSIS);
  return out;
}


function authSection(reports: DbReport[]): string[] {
  const out = [
    'Same run as the FHIR API section. Throughput lost (1 − with/without) on the same routes and data; target ≤ 15% each. ' +
      '"Internal ctx" is `systemContext()`: no token, no scope check, no privacy SQL, no outgoing check (still audited). ' +
      '"Fixed ctx" is the context the clinician\'s token yields, set without verifying a token: the privacy filter still runs.',
  ];
  for (const r of reports) {
    out.push('', `### ${r.db}`, '', ...costs(r, ['read', 'search'], AUTH_LAYERS));
    if (r.gate.length) {
      out.push(
        '',
        'The same cost without HTTP, token or load generator, where this shared machine\'s swings (±10–25 % between ' +
          'autocannon runs of one setup) do not drown it: the bench\'s read and search called on the production gate, 10 at a ' +
          `time, in ${r.gate[0].rounds} alternating blocks per context (medians; Node CPU from \`process.cpuUsage\`, PostgreSQL's CPU not included):`,
        '',
        ...gateAbLines(r.gate),
      );
    }
  }
  return out;
}

function auditSection(reports: DbReport[]): string[] {
  const out = ['Same run as the FHIR API section. Audit on = the production gate (chained AuditEvent appended in the access\'s transaction); off = the same gate with a no-op sink; target ≤ 15%.'];
  for (const r of reports) {
    out.push('', `### ${r.db}`, '', ...costs(r, ['read', 'search', 'create'], AUDIT_LAYERS), '');
    const per = r.audit.rows ? r.audit.bytes / r.audit.rows : 0;
    out.push(
      `Audit volume: \`audit_log\` holds ${r.audit.rows} events in ${(r.audit.bytes / 2 ** 20).toFixed(1)} MB (\`pg_total_relation_size\`, table + indexes + TOAST) = **${per.toFixed(0)} bytes per event**; ` +
        `1 million reads ≈ ${((per * 1e6) / 2 ** 30).toFixed(2)} GB. The events are mostly single-resource reads and 20-result searches of one person; searches naming many persons are larger.`,
    );
  }
  return out;
}

/** Runs one database's bench in a child process and reads back its report. */
function benchInChild(kind: DbKind): Promise<DbReport> {
  const file = join(tmpdir(), `katahdin-bench-${kind}-${process.pid}.json`);
  const argv = [resolve('bin/run-ts.mjs'), 'bench/run.ts', '--db', kind, '--report', file, '--duration', String(duration), '--rounds', String(rounds)];
  return new Promise((done, fail) => {
    const child = execFile(process.execPath, argv, { maxBuffer: 16 << 20 }, async (err) => {
      if (err) return fail(new Error(`bench for ${kind} failed: ${err.message}`));
      done(JSON.parse(await readFile(file, 'utf8')) as DbReport);
      await rm(file, { force: true });
    });
    child.stdout?.pipe(process.stdout);
    child.stderr?.pipe(process.stderr);
  });
}

if (args.report) {
  // Child mode: one database, report to a file for the parent.
  await writeFile(args.report, JSON.stringify(await benchDatabase(args.db as DbKind)));
  process.exit(0);
}
const loadBefore = loadavg();
const kinds: DbKind[] = args.db ? [args.db as DbKind] : ['pglite', 'postgres'];
const skipped: string[] = [];
const reports: DbReport[] = [];
for (const kind of kinds) {
  if (kind === 'postgres' && !(await postgresAvailable())) {
    skipped.push('PostgreSQL was not reachable: its rows are missing from this run.');
    continue;
  }
  reports.push(args.db ? await benchDatabase(kind) : await benchInChild(kind));
}
const m = machine(loadBefore);
console.log(`\n${machineLine(m)}`);
for (const r of reports) {
  console.log(`\n${r.db} (baseline ${baselineRps(r).toFixed(0)} req/s, search total ${r.searchTotal})\n${resultsTable(r).join('\n')}\n\n${targets(r).join('\n')}`);
  console.log(`\n${costs(r, ['read', 'search'], AUTH_LAYERS).join('\n')}\n${costs(r, ['read', 'search', 'create'], AUDIT_LAYERS).slice(2).join('\n')}`);
  console.log(`audit: ${r.audit.rows} events, ${r.audit.bytes} bytes, ${(r.audit.bytes / Math.max(1, r.audit.rows)).toFixed(0)} bytes/event`);
  for (const p of r.profiles) console.log(profileLines(p).join('\n'));
  if (r.ingest) console.log(ingestProfileLines(r.db, r.ingest).join('\n'));
}
if (!args['no-write']) {
  writeSections(resolve(process.cwd(), 'docs/PERFORMANCE.md'), [
    { heading: 'FHIR API', body: fhirSection(m, reports, skipped) },
    { heading: 'Authorization', body: authSection(reports) },
    { heading: 'Audit', body: auditSection(reports) },
  ]);
  console.log('\ndocs/PERFORMANCE.md: FHIR API, Authorization and Audit sections written');
}
