// `npm run bench:export`: FHIR Bulk Data export and Subscription notifications against the real server assembly on
// 127.0.0.1, on PGlite and PostgreSQL, each against a baseline measured in the same run:
// - export: resources/s from kick-off to the last byte of the last file (token, privacy filter, audit of every batch),
//   against a bare route that streams the same rows as NDJSON in the same batches straight from the table;
// - notifications: writes/s of the API with a live subscription watching what is written against the same writes
//   with none (the cost on the write path), and notifications delivered/s (decided through the gate, audited, sent)
//   against bare POSTs to the same receiver.
// Options: --db pglite|postgres, --rounds <n> (default 3), --writes <n> (default 300), --no-write.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Resource, Subscription } from '@medplum/fhirtypes';
import { exportJWK, generateKeyPair } from 'jose';
import { BULK_EXPORT_SCOPE, QUERY_ROLE_SCOPE } from '../src/access/scopes.ts';
import { startNotificationWorker } from '../src/notify/notification-worker.ts';
import { postgresAvailable } from '../test/support/databases.ts';
import { BENCH_CODE, loadBenchData, type BenchData } from './http/data.ts';
import { machine, machineLine, writeSections } from './http/report.ts';
import { startStack, type BenchStack, type DbKind } from './http/stack.ts';

const { values: args } = parseArgs({ options: { db: { type: 'string' }, rounds: { type: 'string', default: '3' }, writes: { type: 'string', default: '300' }, 'no-write': { type: 'boolean', default: false } } });
const rounds = Number(args.rounds);
const writes = Number(args.writes);
const CONCURRENCY = 10;
const BATCH = 500;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const localPath = (url: string) => url.replace(/^https?:\/\/[^/]+/, '');

/** A bare server streaming a type's rows as NDJSON in batches of 500 by id: what an export would cost without the gate. */
async function bareServer(stack: BenchStack): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const type = decodeURIComponent((req.url ?? '').split('/').pop() ?? '');
    res.writeHead(200, { 'content-type': 'application/fhir+ndjson' });
    let after = '';
    for (;;) {
      const { rows } = await stack.db.query<{ id: string; content: Resource }>(
        'select id, content from resources where resource_type = $1 and deleted = false and id > $2 order by id limit $3', [type, after, BATCH]);
      if (rows.length) res.write(rows.map((r) => JSON.stringify(r.content)).join('\n') + '\n');
      if (rows.length < BATCH) break;
      after = rows.at(-1)!.id;
    }
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

async function clientToken(stack: BenchStack, clientId: string, orgId: string, scopes: string[]): Promise<string> {
  const { publicKey } = await generateKeyPair('ES384');
  const jwk = { ...(await exportJWK(publicKey)), kid: `${clientId}-k1`, alg: 'ES384' };
  await stack.services.auth.addClient({ clientId, name: clientId, organizationId: orgId, scopes, jwks: { keys: [jwk] } });
  return (await stack.services.auth.mintTokenForClient(clientId)).accessToken;
}

interface ExportRun { seconds: number; resources: number; bytes: number }

/** Kick-off, poll, download every file; resources and bytes received. */
async function runExport(stack: BenchStack, token: string): Promise<ExportRun> {
  const started = performance.now();
  const headers = { authorization: `Bearer ${token}`, accept: 'application/fhir+json', prefer: 'respond-async' };
  const kick = await fetch(`${stack.urls.full}/fhir/$export`, { headers });
  if (kick.status !== 202) throw new Error(`kick-off ${kick.status}: ${await kick.text()}`);
  const status = localPath(kick.headers.get('content-location') ?? '');
  let manifest: { output: Array<{ url: string }> } | undefined;
  while (!manifest) {
    const poll = await fetch(`${stack.urls.full}${status}`, { headers });
    if (poll.status === 200) manifest = await poll.json() as { output: Array<{ url: string }> };
    else if (poll.status === 202) await new Promise((r) => setTimeout(r, 20));
    else throw new Error(`status ${poll.status}`);
  }
  let resources = 0;
  let bytes = 0;
  for (const out of manifest.output) {
    const text = await (await fetch(`${stack.urls.full}${localPath(out.url)}`, { headers })).text();
    bytes += Buffer.byteLength(text);
    resources += text.split('\n').filter(Boolean).length;
  }
  return { seconds: (performance.now() - started) / 1000, resources, bytes };
}

async function runBare(url: string, types: string[]): Promise<ExportRun> {
  const started = performance.now();
  let resources = 0;
  let bytes = 0;
  for (const type of types) {
    const text = await (await fetch(`${url}/${encodeURIComponent(type)}`)).text();
    bytes += Buffer.byteLength(text);
    resources += text.split('\n').filter(Boolean).length;
  }
  return { seconds: (performance.now() - started) / 1000, resources, bytes };
}

/** `n` requests, `CONCURRENCY` at a time; the finish time of each. */
async function concurrently(n: number, one: (i: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < n) await one(next++);
  }));
  return (performance.now() - started) / 1000;
}

function glucose(patientId: string, i: number): string {
  return JSON.stringify({
    resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${patientId}` }, code: { coding: [BENCH_CODE] },
    effectiveDateTime: new Date(Date.now() - i * 60_000).toISOString(), valueQuantity: { value: 5 + (i % 10) / 10, unit: 'mmol/L' },
  });
}

interface DbFigures {
  db: DbKind;
  exportRuns: ExportRun[];
  bareRuns: ExportRun[];
  writesOff: number[];
  writesOn: number[];
  notifyRates: number[];
  notifyP50: number;
  notifyP99: number;
  bareRates: number[];
}

async function benchDatabase(kind: DbKind): Promise<DbFigures> {
  console.log(`\n[${kind}] starting server and loading data…`);
  const stack = await startStack(kind);
  const bare = await bareServer(stack);
  const received = new Map<string, number>();
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.set(req.url?.split('/').pop() ?? '', performance.now());
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  const worker = startNotificationWorker({
    db: stack.db, gate: stack.services.gate, records: stack.services.records, notifier: stack.services.notifier,
    clientContext: (id) => stack.services.auth.clientContext(id), log: { warn: (o, m) => console.warn(m, o), error: (o, m) => console.error(m, o) },
  });
  try {
    const data: BenchData = await loadBenchData(stack);
    const exporter = await clientToken(stack, 'bench-export', data.orgId, ['system/*.cruds', QUERY_ROLE_SCOPE, BULK_EXPORT_SCOPE]);
    const types = (await stack.db.query<{ t: string }>('select distinct resource_type as t from resources where deleted = false')).rows.map((r) => r.t);
    await runExport(stack, exporter);
    const exportRuns: ExportRun[] = [];
    const bareRuns: ExportRun[] = [];
    for (let r = 0; r < rounds; r++) {
      bareRuns.push(await runBare(bare.url, types));
      exportRuns.push(await runExport(stack, exporter));
      console.log(`  export round ${r + 1}: ${exportRuns.at(-1)!.resources} resources in ${exportRuns.at(-1)!.seconds.toFixed(2)} s; bare ${bareRuns.at(-1)!.resources} in ${bareRuns.at(-1)!.seconds.toFixed(2)} s`);
    }

    const subscriber = await clientToken(stack, 'bench-subscriber', data.orgId, ['system/*.cruds', QUERY_ROLE_SCOPE]);
    const written = new Map<string, number>();
    const write = async (i: number) => {
      const res = await fetch(`${stack.urls.full}/fhir/Observation`, { method: 'POST', headers: { authorization: `Bearer ${data.systemToken}`, 'content-type': 'application/fhir+json' }, body: glucose(data.patientId, i) });
      if (res.status !== 201) throw new Error(`write ${res.status}`);
      const id = ((await res.json()) as Resource).id!;
      written.set(id, performance.now());
    };
    const writesOff: number[] = [];
    const writesOn: number[] = [];
    const notifyRates: number[] = [];
    const latencies: number[] = [];
    const bareRates: number[] = [];
    let subscriptionId: string | undefined;
    await concurrently(50, write);
    for (let r = 0; r < rounds; r++) {
      written.clear();
      writesOff.push(writes / (await concurrently(writes, write)));
      const sub: Subscription = {
        resourceType: 'Subscription', status: 'requested', reason: 'bench', criteria: `Observation?code=${BENCH_CODE.system}|${BENCH_CODE.code}`,
        channel: { type: 'rest-hook', endpoint: hookUrl, payload: 'application/fhir+json' },
      };
      const created = await fetch(`${stack.urls.full}/fhir/Subscription`, { method: 'POST', headers: { authorization: `Bearer ${subscriber}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify(sub) });
      subscriptionId = ((await created.json()) as Resource).id!;
      written.clear();
      received.clear();
      const start = performance.now();
      writesOn.push(writes / (await concurrently(writes, write)));
      while ([...written.keys()].some((id) => !received.has(id))) {
        if (performance.now() - start > 120_000) {
          const missing = [...written.keys()].filter((id) => !received.has(id));
          const queued = await stack.db.query('select count(*)::int as n, max(attempts) as a, min(last_error) as e from notification_outbox');
          throw new Error(`notifications did not all arrive: ${missing.length} of ${written.size} missing; queue ${JSON.stringify(queued.rows[0])}`);
        }
        await new Promise((res) => setTimeout(res, 10));
      }
      const last = Math.max(...[...written.keys()].map((id) => received.get(id)!));
      notifyRates.push(writes / ((last - start) / 1000));
      for (const [id, at] of written) latencies.push(received.get(id)! - at);
      await fetch(`${stack.urls.full}/fhir/Subscription/${subscriptionId}`, { method: 'DELETE', headers: { authorization: `Bearer ${subscriber}` } });
      await new Promise((res) => setTimeout(res, 300));
      bareRates.push(writes / (await concurrently(writes, async (i) => {
        const res = await fetch(`${hookUrl}/Observation/bare-${i}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: glucose(data.patientId, i) });
        await res.arrayBuffer();
      })));
      console.log(`  notify round ${r + 1}: writes ${writesOff.at(-1)!.toFixed(0)}/s without, ${writesOn.at(-1)!.toFixed(0)}/s with a subscription; delivered ${notifyRates.at(-1)!.toFixed(0)}/s; bare POSTs ${bareRates.at(-1)!.toFixed(0)}/s`);
    }
    return { db: kind, exportRuns, bareRuns, writesOff, writesOn, notifyRates, notifyP50: pct(latencies, 0.5), notifyP99: pct(latencies, 0.99), bareRates };
  } finally {
    await worker.stop();
    await new Promise<void>((r) => receiver.close(() => r()));
    await bare.close();
    await stack.close();
  }
}

function section(figures: DbFigures[], loadBefore: number[], skipped: string[]): string[] {
  const m = machine(loadBefore);
  const lines = [
    `\`npm run bench:export\` (bench/export-notify.ts), ${rounds} alternating rounds per database; medians. ${machineLine(m)}`,
    '',
    '| database | export resources/s | bare NDJSON resources/s | export / bare | resources | MB | writes/s, no subscription | writes/s, subscription watching them | write cost | notifications delivered/s | bare POSTs/s | delivered / bare | write → notification p50 / p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const f of figures) {
    const ex = median(f.exportRuns.map((r) => r.resources / r.seconds));
    const bare = median(f.bareRuns.map((r) => r.resources / r.seconds));
    const off = median(f.writesOff);
    const on = median(f.writesOn);
    const notify = median(f.notifyRates);
    const barePost = median(f.bareRates);
    lines.push(`| ${f.db} | ${ex.toFixed(0)} | ${bare.toFixed(0)} | ${(100 * ex / bare).toFixed(0)}% | ${f.exportRuns[0].resources} | ${(f.exportRuns[0].bytes / 2 ** 20).toFixed(1)} | ${off.toFixed(0)} | ${on.toFixed(0)} | ${(100 * (1 - on / off)).toFixed(0)}% | ${notify.toFixed(0)} | ${barePost.toFixed(0)} | ${(100 * notify / barePost).toFixed(0)}% | ${f.notifyP50.toFixed(0)} / ${f.notifyP99.toFixed(0)} |`);
  }
  lines.push('');
  lines.push('The export is the system client of the organization that sent the bench data (its own records: all of them), so both sides read the same rows; the export adds the token, the kick-off and planning, the privacy filter per row, the outgoing check and an audit entry per batch of 500. The notification figures are measured while the API is written to by 10 concurrent clients, one notification per write (the subscription watches glucose results, which the writes are); "write cost" is what queuing the notifications (and the worker sending them on the same machine) takes from the write path. Notifications delivered/s is measured from the first write to the last notification received, so it cannot exceed the write rate that produces them; the bare POSTs show what the receiver and loopback HTTP alone allow.');
  if (skipped.length) lines.push('', `Skipped: ${skipped.join(', ')}.`);
  return lines;
}

const loadBefore = loadavg();
const kinds: DbKind[] = args.db ? [args.db as DbKind] : ['pglite', 'postgres'];
const skipped: string[] = [];
const figures: DbFigures[] = [];
for (const kind of kinds) {
  if (kind === 'postgres' && !(await postgresAvailable())) {
    skipped.push('PostgreSQL (not reachable)');
    continue;
  }
  figures.push(await benchDatabase(kind));
}
const lines = section(figures, loadBefore, skipped);
console.log(`\n${lines.join('\n')}`);
if (!args['no-write']) writeSections(resolve(process.cwd(), 'docs/PERFORMANCE.md'), [{ heading: 'Bulk export and notifications', body: lines }]);
process.exit(0);
