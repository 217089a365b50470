import type { GateAb } from './gate-ab.ts';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import type { IngestFigures } from './data.ts';
import type { Measured, Operation, Profile, Setup } from './scenarios.ts';
import type { DbKind } from './stack.ts';

export interface DbReport {
  db: DbKind;
  results: Measured[];
  profiles: Profile[];
  ingest?: IngestFigures;
  peakRssMb: number;
  startedRssMb: number;
  audit: { rows: number; bytes: number };
  searchTotal: number;
  /** Authorization measured in process on the gate (see gate-ab.ts). */
  gate: GateAb[];
}

export interface Machine {
  date: string;
  cores: number;
  cpuModel: string;
  ramGb: number;
  os: string;
  loadBefore: number[];
  loadAfter: number[];
}

export function machine(loadBefore: number[]): Machine {
  return {
    date: new Date().toISOString(), cores: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown',
    ramGb: Math.round(totalmem() / 2 ** 30), os: `${platform()} ${release()}`, loadBefore, loadAfter: loadavg(),
  };
}

const SETUP_LABEL: Record<Setup, string> = {
  bare: 'bare route, 1 row by PK',
  full: 'production (token + privacy + audit)',
  noAudit: 'audit off (no-op sink)',
  fixedUser: 'token verification off (fixed ctx)',
  internal: 'authorization off (internal ctx)',
};

const fmt = (n: number, d = 0) => n.toFixed(d);
const pct = (n: number) => `${(n * 100).toFixed(0)}%`;

export function baselineRps(r: DbReport): number {
  return rpsOf(r, 'baseline', 'bare') ?? 0;
}

export function rpsOf(r: DbReport, op: Operation, setup: Setup): number | undefined {
  return r.results.find((m) => m.op === op && m.setup === setup)?.rps;
}

/** Throughput lost to a layer: 1 - with/without. */
function cost(r: DbReport, op: Operation, on: Setup, off: Setup): string {
  const a = rpsOf(r, op, on);
  const b = rpsOf(r, op, off);
  return a && b ? pct(1 - a / b) : 'n/a';
}

function resultsTable(r: DbReport): string[] {
  const base = baselineRps(r);
  const lines = ['| operation | server | req/s (mean) | runs min–max | p50 ms | p99 ms | vs baseline | non-2xx |', '|---|---|---:|---:|---:|---:|---:|---:|'];
  for (const m of r.results) {
    lines.push(`| ${m.op} | ${SETUP_LABEL[m.setup]} | ${fmt(m.rps)} | ${fmt(m.spread[0])}–${fmt(m.spread[1])} | ${fmt(m.p50)} | ${fmt(m.p99)} | ${pct(m.rps / base)} | ${m.non2xx + m.errors + m.timeouts} |`);
  }
  return lines;
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? 'n/a' : ok ? 'met' : '**missed**';
}

export function targets(r: DbReport): string[] {
  const base = baselineRps(r);
  const read = rpsOf(r, 'read', 'full') ?? 0;
  const search = rpsOf(r, 'search', 'full') ?? 0;
  const ingest = r.ingest && r.ingest.seconds > 0 ? r.ingest.resources / r.ingest.seconds : undefined;
  return [
    '| target | measured | result |', '|---|---:|---|',
    `| read ≥ 60% of baseline | ${pct(read / base)} | ${verdict(read / base >= 0.6)} |`,
    `| search ≥ 25% of baseline | ${pct(search / base)} | ${verdict(search / base >= 0.25)} |`,
    `| bundle ingest ≥ 1,500 resources/s | ${ingest ? fmt(ingest) : 'n/a'} | ${verdict(ingest === undefined ? undefined : ingest >= 1500)} |`,
    `| peak RSS < 500 MB | ${fmt(r.peakRssMb)} MB | ${verdict(r.peakRssMb < 500)} |`,
  ];
}

export function costs(r: DbReport, ops: Operation[], layers: Array<[string, Setup, Setup]>): string[] {
  const lines = [`| layer | ${ops.join(' | ')} |`, `|---|${ops.map(() => '---:').join('|')}|`];
  for (const [name, on, off] of layers) lines.push(`| ${name} | ${ops.map((op) => cost(r, op, on, off)).join(' | ')} |`);
  return lines;
}

export const AUTH_LAYERS: Array<[string, Setup, Setup]> = [
  ['authorization, all of it (token + scopes + privacy SQL + outgoing check) — production vs internal ctx', 'full', 'internal'],
  ['token verification only — production vs fixed ctx of the same user', 'full', 'fixedUser'],
  ['labels / consent / relationship filtering — fixed user ctx vs internal ctx', 'fixedUser', 'internal'],
];
export const AUDIT_LAYERS: Array<[string, Setup, Setup]> = [['audit (chained AuditEvent in the same transaction) — production vs no-op sink', 'full', 'noAudit']];

export function profileLines(p: Profile): string[] {
  const total = p.top.reduce((n, s) => n + s.totalMs, 0);
  const lines = [`${p.db} ${p.op}: ${p.requests} requests, ${p.transactions} transaction blocks (BEGIN … COMMIT; a single-statement read needs none), ${fmt(p.statementsPerRequest, 1)} SQL statements per request; where the time went (summed over concurrent requests):`];
  for (const s of p.top) lines.push(`  - ${fmt((s.totalMs / Math.max(1, total)) * 100)}% ${fmt(s.totalMs / Math.max(1, s.count), 2)} ms avg × ${s.count}: \`${s.statement}\``);
  return lines;
}

export function ingestProfileLines(db: DbKind, f: IngestFigures): string[] {
  const total = f.top.reduce((n, s) => n + s.totalMs, 0);
  const lines = [`${db} ingest: ${fmt(f.statementsPerResource, 1)} SQL statements per resource; where the time went:`];
  for (const s of f.top) lines.push(`  - ${fmt((s.totalMs / Math.max(1, total)) * 100)}% ${fmt(s.totalMs / Math.max(1, s.count), 2)} ms avg × ${s.count}: \`${s.statement}\``);
  return lines;
}

export function machineLine(m: Machine): string {
  const busy = m.loadBefore[0] > m.cores || m.loadAfter[0] > m.cores;
  return `Run ${m.date.slice(0, 16).replace('T', ' ')} UTC on ${m.os}, ${m.cores} cores (${m.cpuModel}), ${m.ramGb} GB RAM; load average ${m.loadBefore.map((n) => n.toFixed(1)).join(' / ')} before and ${m.loadAfter.map((n) => n.toFixed(1)).join(' / ')} after (1/5/15 min).` +
    (busy ? ` **The machine was shared and overloaded (load average above the core count): other processes competed for the CPU during the run, so absolute figures are low and noisy; compare rows of the same run, not runs.**` : '');
}

export { resultsTable };

/** Replaces (or appends) the given `## Heading` sections of docs/PERFORMANCE.md, leaving other sections untouched. */
export function writeSections(file: string, sections: Array<{ heading: string; body: string[] }>): void {
  // Re-read right before writing: other engineers own other sections of the same file.
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Performance\n\nFigures from `npm run bench*` runs. Each section names its command and date.\n';
  for (const { heading, body } of sections) {
    const block = `## ${heading}\n\n${body.join('\n')}\n`;
    const start = text.indexOf(`\n## ${heading}\n`);
    if (start < 0) {
      text = `${text.trimEnd()}\n\n${block}`;
      continue;
    }
    const next = text.indexOf('\n## ', start + 4);
    text = `${text.slice(0, start + 1)}${block}${next < 0 ? '' : `\n${text.slice(next + 1)}`}`;
  }
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}
