/**
 * The server's memory in a short run: `node bin/run-ts.mjs bench/http/memory.ts [postgres|pglite] [--load] [--plans]`.
 * Samples RSS as `npm run bench` does (MemorySampler, every 200 ms, from before start-up) and prints
 * `process.memoryUsage()` after start-up and after each phase, then the peak. `--load`: the bench data (principals,
 * Synthea bundles, 250 results), then 3 s each of read, search and create on the production assembly; `--plans`:
 * then every bench plan once for 2 s. Minutes shorter than `npm run bench`, so start-up changes can be compared back
 * to back on a shared machine. Not written to docs/PERFORMANCE.md.
 */
import { loadBenchData } from './data.ts';
import { MemorySampler, runLoad } from './load.ts';
import { runScenarios } from './scenarios.ts';
import { startStack, type DbKind } from './stack.ts';

const kind = (process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'postgres') as DbKind;
const plans = process.argv.includes('--plans');
const load = plans || process.argv.includes('--load');
const mb = (n: number) => (n / 2 ** 20).toFixed(0);
const sampler = new MemorySampler();
const show = (label: string) => {
  const m = process.memoryUsage();
  console.log(`${label}: rss ${mb(m.rss)} MB (peak so far ${mb(sampler.peak)}), heapUsed ${mb(m.heapUsed)}, heapTotal ${mb(m.heapTotal)}, external ${mb(m.external)}`);
};

sampler.start();
const stack = await startStack(kind);
try {
  show('started');
  if (load) {
    const data = await loadBenchData(stack);
    show('bench data loaded');
    const reader = { authorization: `Bearer ${data.clinicianToken}` };
    const writer = { authorization: `Bearer ${data.systemToken}`, 'content-type': 'application/fhir+json' };
    const read = await runLoad({ url: `${stack.urls.full}/fhir/Observation/${data.observationId}`, headers: reader, duration: 3, connections: 10 });
    const search = await runLoad({ url: `${stack.urls.full}${data.searchPath}`, headers: reader, duration: 3, connections: 10 });
    const create = await runLoad({ url: `${stack.urls.full}/fhir/Observation`, method: 'POST', headers: writer, body: data.createBody, duration: 3, connections: 10 });
    console.log(`read ${read.rps.toFixed(0)}/s, search ${search.rps.toFixed(0)}/s, create ${create.rps.toFixed(0)}/s (non-2xx ${read.non2xx + search.non2xx + create.non2xx})`);
    show('after read, search, create');
    if (plans) {
      const { results } = await runScenarios(stack, data, { duration: 2, connections: 10, rounds: 1 });
      console.log(`${results.length} plans, non-2xx ${results.reduce((n, r) => n + r.non2xx, 0)}`);
      show('after the bench plans');
    }
  }
  console.log(`peak RSS ${mb(sampler.stop())} MB`);
} finally {
  sampler.stop();
  await stack.close();
}
