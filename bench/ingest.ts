/**
 * `npm run bench:ingest`: sustained MLLP throughput and ACK latency with 4 concurrent senders on PGlite and
 * PostgreSQL (when reachable), against a no-op ACK listener as baseline in the same run, plus C-CDA documents/s.
 * Prints a table and writes it into docs/PERFORMANCE.md (section "Ingestion"). Options: --duration <s>, --no-write.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import type { Organization } from '@medplum/fhirtypes';
import { systemContext, type AccessContext } from '../src/access/context.ts';
import { buildAck, echoFromRaw } from '../src/ingest/hl7v2/ack.ts';
import { startMllpServer } from '../src/ingest/hl7v2/mllp-server.ts';
import { startServer } from '../src/server.ts';
import { postgresAvailable, throwawaySchema } from '../test/support/databases.ts';
import { hasCcdaCorpus, runCcdaLoad } from './ingest/ccda-load.ts';
import { runLoad } from './ingest/load.ts';
import { load, machine, section, table, writeSection, type TargetResult } from './ingest/report.ts';
import { patientStream } from './ingest/patients.ts';
import { instantiate, loadMix } from './ingest/templates.ts';

const args = process.argv.slice(2);
const durationS = Number(args[args.indexOf('--duration') + 1]) > 0 && args.includes('--duration') ? Number(args[args.indexOf('--duration') + 1]) : 20;
const SENDERS = 4;
const WARMUP_MS = 10_000;
const mix = loadMix();
const runId = Date.now().toString(36);
let counter = 0;
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const nextPatient = patientStream(7, runId);
const nextMessage = () => instantiate(mix.pick(random()), `${runId}-${counter++}`, nextPatient());
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function baseline(): Promise<TargetResult> {
  const server = await startMllpServer({
    host: '127.0.0.1', port: 0, idleTimeoutMs: 60_000, maxMessageBytes: 4 * 1024 * 1024, logger: silent,
    handler: async (raw) => buildAck({ ackCode: 'AA', echo: echoFromRaw(raw), now: new Date(), ackControlId: 'NOOP' }),
  });
  try {
    await runLoad(server.port, SENDERS, WARMUP_MS, nextMessage);
    return { target: 'no-op ACK listener', mllp: await runLoad(server.port, SENDERS, durationS * 1000, nextMessage) };
  } finally {
    await server.close();
  }
}

async function ccdaSender(s: Awaited<ReturnType<typeof startServer>>['services']): Promise<AccessContext> {
  const org = await s.gate.run(systemContext('bench'), { action: 'create' }, (scope) => s.records.create(scope, { resourceType: 'Organization', name: 'Bench C-CDA sender' }));
  return { clientId: 'bench-ccda', displayName: 'bench C-CDA sender', role: 'system', organizationId: (org.resource as Organization).id, scopes: ['system/*.cruds'], purposeOfUse: 'TREAT' };
}

async function katahdin(kind: 'pglite' | 'postgres'): Promise<TargetResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'katahdin-bench-'));
  const schema = kind === 'postgres' ? await throwawaySchema() : undefined;
  const logStream = new Writable({ write: (_c, _e, done) => done() });
  const server = await startServer({ env: {}, logStream, config: { port: 0, mllpPort: 0, host: '127.0.0.1', dataDir, demo: false, logLevel: 'warn', databaseUrl: schema?.url } });
  try {
    await runLoad(server.mllpPort!, SENDERS, WARMUP_MS, nextMessage);
    const mllp = await runLoad(server.mllpPort!, SENDERS, durationS * 1000, nextMessage);
    const ccda = hasCcdaCorpus ? await runCcdaLoad(server.services, await ccdaSender(server.services), 2, Math.max(5, durationS / 2) * 1000, `${kind}-`) : undefined;
    const label = kind === 'pglite' ? 'Katahdin on PGlite (embedded, on disk)' : 'Katahdin on PostgreSQL (local)';
    return { target: label, mllp, ccda, note: hasCcdaCorpus ? undefined : 'C-CDA corpus absent: documents/s not measured' };
  } finally {
    await server.close();
    await schema?.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const loadBefore = load();
  console.log(`bench:ingest — ${machine()}; ${SENDERS} senders, ${durationS} s per target; mix from ${mix.source}`);
  const results: TargetResult[] = [await baseline()];
  console.log(table(results));
  results.push(await katahdin('pglite'));
  console.log(table(results));
  if (await postgresAvailable()) results.push(await katahdin('postgres'));
  else results.push({ target: 'Katahdin on PostgreSQL', note: 'PostgreSQL not reachable: not measured' });
  const info = { date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC', senders: SENDERS, durationS, mix: mix.source, loadBefore, loadAfter: load() };
  console.log(`\n${table(results)}`);
  if (!args.includes('--no-write')) {
    writeSection(resolve(process.cwd(), 'docs/PERFORMANCE.md'), section(info, results));
    console.log('written to docs/PERFORMANCE.md (section "Ingestion")');
  }
}

await main();
