import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { INGEST_ANALYSIS } from './analysis.ts';
import type { CcdaLoadResult } from './ccda-load.ts';
import type { LoadResult } from './load.ts';

export interface TargetResult {
  target: string;
  mllp?: LoadResult;
  ccda?: CcdaLoadResult;
  note?: string;
}

export interface RunInfo {
  date: string;
  senders: number;
  durationS: number;
  mix: string;
  loadBefore: number[];
  loadAfter: number[];
}

const f = (x: number | undefined, digits = 0) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));

export function machine(): string {
  const cpu = cpus();
  return `${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${Math.round(totalmem() / 2 ** 30)} GB RAM, ${platform()} ${release()}`;
}

export function table(results: TargetResult[]): string {
  const baseline = results.find((r) => r.target.startsWith('no-op'))?.mllp?.perSecond;
  const rows = results.map((r) => {
    const m = r.mllp;
    const ratio = m && baseline && !r.target.startsWith('no-op') ? `${((m.perSecond / baseline) * 100).toFixed(1)} %` : '–';
    const refused = m ? Object.entries(m.refused).map(([k, v]) => `${k} ${v}`).join(', ') || '0' : '–';
    const c = r.ccda;
    return `| ${r.target} | ${f(m?.messages)} | ${f(m?.perSecond, 1)} | ${f(m?.p50, 1)} | ${f(m?.p99, 1)} | ${ratio} | ${refused} | ${c ? `${f(c.perSecond, 2)} (${f(c.resourcesPerSecond, 0)} res/s${c.failed ? `, ${c.failed} failed` : ''})` : '–'} |`;
  });
  return [
    '| target | messages | messages/s | p50 ACK ms | p99 ACK ms | vs no-op | non-AA | C-CDA docs/s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

export function section(info: RunInfo, results: TargetResult[]): string {
  const cores = cpus().length;
  const loaded = Math.max(info.loadBefore[0], info.loadAfter[0]) > cores * 0.5;
  const notes = results.filter((r) => r.note).map((r) => `- ${r.target}: ${r.note}`);
  return [
    '## Ingestion',
    '',
    `Measured ${info.date} with \`npm run bench:ingest\` on ${machine()}.`,
    `Load average before/after: ${info.loadBefore.map((x) => x.toFixed(1)).join(' ')} / ${info.loadAfter.map((x) => x.toFixed(1)).join(' ')}.`,
    loaded
      ? '**The machine was shared with other work and loaded during the measurement** (load average above half the core count): figures are lower bounds, not capacity.'
      : 'The machine was otherwise idle during the measurement.',
    '',
    `Load: ${info.senders} concurrent MLLP senders, each sending a message and waiting for its ACK, for ${info.durationS} s per target after a warm-up;`,
    `mix ADT 50 % / ORU 35 % / VXU, MDM, RDE 5 % each, from ${info.mix}, with unique control ids, visit and order numbers;`,
    'the patients are registrations of the seeded synthetic population of the MPI benchmarks (households, twins, people registered',
    'more than once with typos), about three messages each, 40 active at a time (`bench/ingest/patients.ts`).',
    'Latency is frame written → ACK received at the sender. "vs no-op" is throughput relative to an MLLP listener (same framer and',
    'server code) whose handler only builds an AA ACK, measured in the same run. C-CDA: corpus documents (re-identified per',
    'upload) through the whole pipeline (validate, convert, inbox, one gate transaction), 2 at a time, in process.',
    '',
    table(results),
    '',
    ...targets(results),
    ...(notes.length ? [...notes, ''] : []),
    'Each message is one database transaction with the inbox row committed first (durability before ACK), MPI linking of the',
    'Patient, conditional updates keyed on source identifiers, label propagation and the audit entry; the no-op listener does none',
    'of that, so the ratio is the price of durability and of the record layer, not of the MLLP server.',
    '',
    ...INGEST_ANALYSIS,
  ].join('\n');
}

/** The issue's targets, checked on PostgreSQL. */
function targets(results: TargetResult[]): string[] {
  const pg = results.find((r) => r.target.includes('PostgreSQL'))?.mllp;
  if (!pg) return ['Targets (PostgreSQL): not measured in this run.', ''];
  const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
  return [
    '| target (PostgreSQL) | measured | result |',
    '|---|---:|---|',
    `| ≥ 400 messages/s sustained | ${pg.perSecond.toFixed(1)} | ${verdict(pg.perSecond >= 400)} |`,
    `| p99 ACK ≤ 100 ms | ${pg.p99.toFixed(0)} ms | ${verdict(pg.p99 <= 100)} |`,
    '',
  ];
}

/** Replaces the "## Ingestion" section of docs/PERFORMANCE.md (or appends it), leaving other sections as they are. */
export function writeSection(path: string, text: string): void {
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Performance\n\n';
  const start = doc.search(/^## Ingestion\s*$/m);
  if (start < 0) {
    writeFileSync(path, `${doc.replace(/\s*$/, '\n\n')}${text}`);
    return;
  }
  const rest = doc.slice(start + 1);
  const nextHeading = rest.search(/^## /m);
  const end = nextHeading < 0 ? doc.length : start + 1 + nextHeading;
  writeFileSync(path, `${doc.slice(0, start)}${text}${nextHeading < 0 ? '' : '\n'}${doc.slice(end)}`);
}

export const load = () => loadavg();
