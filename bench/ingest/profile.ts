/**
 * Where an HL7 v2 message's time goes: `node bin/run-ts.mjs bench/ingest/profile.ts [pglite|postgres] [messages] [senders] [--cpu]`.
 * Runs the bench mix through `receiveHl7` in process (no MLLP socket) over the SQL-profiling `Database` wrapper and
 * prints messages/s, SQL statements and Node CPU per message and the statements that took the most time (`--cpu`: and
 * an inspector profile of the measured messages). Not written
 * to docs/PERFORMANCE.md: `npm run bench:ingest` measures the sustained MLLP figures.
 */
import { receiveHl7 } from '../../src/ingest/hl7v2-pipeline.ts';
import { startStack, type DbKind } from '../http/stack.ts';
import { startCpuProfile } from './cpu-profile.ts';
import { patientStream } from './patients.ts';
import { instantiate, loadMix } from './templates.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const kind = (args[0] ?? 'postgres') as DbKind;
const messages = Number(args[1] ?? 300);
const senders = Number(args[2] ?? 4);
const WARMUP = 40;
const mix = loadMix();
let seed = 42;
let counter = 0;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const runId = Date.now().toString(36);
const nextPatient = patientStream(7, runId);
const next = () => instantiate(mix.pick(random()), `${runId}-${counter++}`, nextPatient());

const stack = await startStack(kind);
try {
  const statuses: Record<string, number> = {};
  const send = async (count: number): Promise<number[]> => {
    let left = count;
    const latencies: number[] = [];
    await Promise.all(Array.from({ length: senders }, async () => {
      while (left-- > 0) {
        const t0 = performance.now();
        const out = await receiveHl7(stack.services, next(), 'mllp');
        latencies.push(performance.now() - t0);
        statuses[out.status] = (statuses[out.status] ?? 0) + 1;
      }
    }));
    return latencies.sort((a, b) => a - b);
  };
  await send(WARMUP);
  stack.db.start();
  const profiler = process.argv.includes('--cpu') ? await startCpuProfile() : undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const latencies = await send(messages);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const report = await profiler?.stop();
  const profile = stack.db.stop();
  const statements = profile.statements.reduce((n, st) => n + (st.statement.startsWith('(') ? 0 : st.count), 0);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)].toFixed(1);
  console.log(`${kind}: ${messages} messages, ${senders} at a time: ${(messages / seconds).toFixed(1)}/s, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms; ` +
    `${(statements / messages).toFixed(1)} SQL statements and ${((cpu.user + cpu.system) / 1000 / messages).toFixed(1)} ms Node CPU per message (user ${(cpu.user / 1000 / messages).toFixed(1)}, system ${(cpu.system / 1000 / messages).toFixed(1)})`, statuses);
  for (const st of profile.statements.slice(0, 25)) console.log(`  ${String(st.count).padStart(6)} × ${(st.totalMs / st.count).toFixed(2).padStart(7)} ms  ${st.statement}`);
  if (report) console.log(report.join('\n'));
} finally {
  await stack.close();
}
