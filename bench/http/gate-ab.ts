import type { AccessContext } from '../../src/access/context.ts';
import type { BenchData } from './data.ts';
import type { BenchStack } from './stack.ts';

/** One operation's authorization cost measured in process: the clinician's context against the internal one. */
export interface GateAb {
  op: 'read' | 'search';
  clinician: { opsPerSec: number; cpuUsPerOp: number };
  internal: { opsPerSec: number; cpuUsPerOp: number };
  rounds: number;
}

const CONCURRENCY = 10;
const ROUNDS = 6;

/**
 * The gate's authorization (scopes, privacy SQL, outgoing check) without HTTP or token: the bench's read and search
 * called on the production gate, 10 at a time, in alternating blocks for the clinician's context and the internal
 * one. Node CPU per operation (`process.cpuUsage`) is steadier than throughput on a shared machine; both are
 * reported as medians of the blocks.
 */
export async function gateAb(stack: BenchStack, data: BenchData, ops: Array<'read' | 'search'>): Promise<GateAb[]> {
  const gate = stack.services.gate;
  const query = [...new URL(`http://x${data.searchPath}`).searchParams.entries()];
  const out: GateAb[] = [];
  for (const op of ops) {
    const n = op === 'read' ? 2000 : 300;
    const once = (ctx: AccessContext) => (op === 'read' ? gate.read(ctx, 'Observation', data.observationId) : gate.search(ctx, 'Observation', query, false));
    const block = async (ctx: AccessContext) => {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      let left = n;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (left-- > 0) await once(ctx);
      }));
      const cpu = process.cpuUsage(cpu0);
      return { opsPerSec: (1000 * n) / (performance.now() - t0), cpuUsPerOp: (cpu.user + cpu.system) / n };
    };
    await block(data.clinicianCtx);
    await block(data.internalCtx);
    const runs = { clinician: [] as Array<{ opsPerSec: number; cpuUsPerOp: number }>, internal: [] as Array<{ opsPerSec: number; cpuUsPerOp: number }> };
    for (let i = 0; i < ROUNDS; i++) {
      const order = i % 2 ? (['internal', 'clinician'] as const) : (['clinician', 'internal'] as const);
      for (const who of order) runs[who].push(await block(who === 'clinician' ? data.clinicianCtx : data.internalCtx));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const summary = (rs: Array<{ opsPerSec: number; cpuUsPerOp: number }>) => ({ opsPerSec: median(rs.map((r) => r.opsPerSec)), cpuUsPerOp: median(rs.map((r) => r.cpuUsPerOp)) });
    out.push({ op, clinician: summary(runs.clinician), internal: summary(runs.internal), rounds: ROUNDS });
  }
  return out;
}

/** The in-process table for docs/PERFORMANCE.md. */
export function gateAbLines(rows: GateAb[]): string[] {
  const pct = (x: number) => `${Math.round(100 * x)}%`;
  const lines = [
    '| in process, gate only | clinician ops/s | internal ops/s | throughput cost | clinician Node CPU µs/op | internal Node CPU µs/op | CPU cost |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const throughputCost = 1 - r.clinician.opsPerSec / r.internal.opsPerSec;
    const cpuCost = r.clinician.cpuUsPerOp / r.internal.cpuUsPerOp - 1;
    lines.push(`| ${r.op} | ${r.clinician.opsPerSec.toFixed(0)} | ${r.internal.opsPerSec.toFixed(0)} | ${pct(throughputCost)} | ${r.clinician.cpuUsPerOp.toFixed(0)} | ${r.internal.cpuUsPerOp.toFixed(0)} | ${pct(cpuCost)} |`);
  }
  return lines;
}
