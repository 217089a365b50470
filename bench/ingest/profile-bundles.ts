/**
 * Where a transaction bundle's time goes: `node bin/run-ts.mjs bench/ingest/profile-bundles.ts [pglite|postgres] [bundles] [passes] [--cpu]`.
 * POSTs the first Synthea bundles (as the bench's bundle ingest does, 2 at a time) straight to `TransactionService`
 * in process (no HTTP, no JSON parsing in the measured section), pass after pass, and prints resources/s and Node CPU
 * per resource for each pass; `--cpu` adds an inspector profile of the last pass. Not written to docs/PERFORMANCE.md:
 * `npm run bench` measures the HTTP figures.
 */
import { readFile, readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { systemContext, type AccessContext } from '../../src/access/context.ts';
import { SYNTHEA_DIR } from '../http/data.ts';
import { startStack, type DbKind } from '../http/stack.ts';
import { startCpuProfile, type CpuProfiler } from './cpu-profile.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const kind = (args[0] ?? 'postgres') as DbKind;
const count = Number(args[1] ?? 6);
const passes = Number(args[2] ?? 3);
const cpuProfile = process.argv.includes('--cpu');
const CONCURRENCY = 2;

const files = (await readdir(SYNTHEA_DIR)).filter((f) => f.endsWith('.json')).sort().slice(0, count);
const texts = await Promise.all(files.map((f) => readFile(resolve(SYNTHEA_DIR, f), 'utf8')));
const stack = await startStack(kind);
try {
  const { gate, records, transactions } = stack.services;
  const org = await gate.run(systemContext('bench'), { action: 'create' }, (scope) => records.create(scope, { resourceType: 'Organization', name: 'Bench Clinic' }));
  const ctx: AccessContext = { clientId: 'bench-ehr', displayName: 'Bench EHR', role: 'system', organizationId: org.resource.id, scopes: ['system/*.cruds'], purposeOfUse: 'TREAT' };
  for (let pass = 1; pass <= passes; pass++) {
    const bundles = texts.map((t) => JSON.parse(t) as Bundle);
    const resources = bundles.reduce((n, b) => n + (b.entry?.length ?? 0), 0);
    let next = 0;
    let failures = 0;
    const profiler: CpuProfiler | undefined = cpuProfile && pass === passes ? await startCpuProfile() : undefined;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < bundles.length) {
        const bundle = bundles[next++];
        try {
          await transactions.execute(ctx, bundle);
        } catch (err) {
          failures += 1;
          console.error(err);
        }
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const report = await profiler?.stop();
    console.log(`${kind} pass ${pass}: ${resources} resources in ${bundles.length} bundles, ${(resources / seconds).toFixed(0)}/s, ` +
      `${((cpu.user + cpu.system) / 1000 / resources).toFixed(3)} ms Node CPU per resource, ${failures} failed`);
    if (report) console.log(report.join('\n'));
  }
} finally {
  await stack.close();
}
