import type { AccessContext } from '../../src/access/context.ts';
import type { BenchData } from './data.ts';
import { runLoad, type LoadResult } from './load.ts';
import type { StatementStat } from './sql-profile.ts';
import type { BenchStack, DbKind } from './stack.ts';

export type Operation = 'baseline' | 'read' | 'search' | 'create';
/** full = production assembly; noAudit = no-op audit sink; fixedUser = caller's context without token verification; internal = internal context (no token, no privacy filter). */
export type Setup = 'bare' | 'full' | 'noAudit' | 'fixedUser' | 'internal';

export interface Measured extends LoadResult {
  db: DbKind;
  op: Operation;
  setup: Setup;
  /** Lowest and highest req/s of the rounds averaged here. */
  spread: [number, number];
  runs: number;
}

export interface Profile {
  db: DbKind;
  op: Operation;
  requests: number;
  statementsPerRequest: number;
  transactions: number;
  top: StatementStat[];
}

export interface RunOptions {
  duration: number;
  connections: number;
  /** Each round runs every plan; odd rounds in reverse order, so drift in the machine's load hits all setups alike. */
  rounds: number;
  /** Only these operations (and always the baseline); all when absent. */
  ops?: Operation[];
}

interface Plan {
  op: Operation;
  setup: Setup;
  profile?: boolean;
}

const PLANS: Plan[] = [
  { op: 'baseline', setup: 'bare' },
  { op: 'read', setup: 'full', profile: true },
  { op: 'read', setup: 'noAudit' },
  { op: 'read', setup: 'fixedUser' },
  { op: 'read', setup: 'internal' },
  { op: 'search', setup: 'full', profile: true },
  { op: 'search', setup: 'noAudit' },
  { op: 'search', setup: 'fixedUser' },
  { op: 'search', setup: 'internal' },
  { op: 'create', setup: 'full', profile: true },
  { op: 'create', setup: 'noAudit' },
  { op: 'create', setup: 'internal' },
];

function target(stack: BenchStack, data: BenchData, plan: Plan) {
  const writer = plan.op === 'create';
  const token = writer ? data.systemToken : data.clinicianToken;
  const user: AccessContext = writer ? data.systemCtx : data.clinicianCtx;
  const path = plan.op === 'search' ? data.searchPath : plan.op === 'create' ? '/fhir/Observation' : `/fhir/Observation/${data.observationId}`;
  const base = plan.setup === 'bare' ? stack.urls.full : plan.setup === 'full' ? stack.urls.full : plan.setup === 'noAudit' ? stack.urls.noAudit : stack.urls.fixed;
  const url = plan.op === 'baseline' ? `${base}/bench/row/Observation/${data.observationId}` : `${base}${path}`;
  const headers: Record<string, string> = {};
  if (plan.setup === 'full' || plan.setup === 'noAudit') headers.authorization = `Bearer ${token}`;
  if (writer) headers['content-type'] = 'application/fhir+json';
  stack.fixedContext.current = plan.setup === 'internal' ? data.internalCtx : user;
  return { url, headers, method: writer ? ('POST' as const) : ('GET' as const), body: writer ? data.createBody : undefined };
}

/** Means of the rounds of one plan (requests/s and latencies); counts of failures are summed. */
function merge(db: DbKind, plan: Plan, runs: LoadResult[]): Measured {
  const mean = (f: (r: LoadResult) => number) => runs.reduce((n, r) => n + f(r), 0) / runs.length;
  const sum = (f: (r: LoadResult) => number) => runs.reduce((n, r) => n + f(r), 0);
  const rps = runs.map((r) => r.rps);
  return {
    db, op: plan.op, setup: plan.setup, runs: runs.length, spread: [Math.min(...rps), Math.max(...rps)],
    rps: mean((r) => r.rps), total: sum((r) => r.total), p50: mean((r) => r.p50), p99: mean((r) => r.p99),
    non2xx: sum((r) => r.non2xx), errors: sum((r) => r.errors), timeouts: sum((r) => r.timeouts),
  };
}

async function profiledRun(stack: BenchStack, plan: Plan, run: () => Promise<LoadResult>, profiles: Profile[]): Promise<LoadResult> {
  stack.db.start();
  const r = await run();
  const p = stack.db.stop();
  const statements = p.statements.reduce((n, s) => n + (s.statement.startsWith('(') ? 0 : s.count), 0);
  profiles.push({ db: stack.kind, op: plan.op, requests: r.total, statementsPerRequest: statements / Math.max(1, r.total), transactions: p.transactions, top: p.statements.slice(0, 6) });
  return r;
}

/** Every planned autocannon run against one database, in rounds; then one more run of each production setup with its SQL profiled. */
export async function runScenarios(stack: BenchStack, data: BenchData, o: RunOptions): Promise<{ results: Measured[]; profiles: Profile[] }> {
  const plans = PLANS.filter((p) => p.op === 'baseline' || !o.ops || o.ops.includes(p.op));
  const runs = new Map<Plan, LoadResult[]>(plans.map((p) => [p, []]));
  const profiles: Profile[] = [];
  for (let round = 0; round < o.rounds; round++) {
    for (const plan of round % 2 === 0 ? plans : [...plans].reverse()) {
      const t = target(stack, data, plan);
      const run = () => runLoad({ ...t, duration: o.duration, connections: o.connections });
      const r = await run();
      runs.get(plan)!.push(r);
      const bad = r.non2xx + r.errors + r.timeouts;
      console.log(`  ${stack.kind} ${plan.op.padEnd(8)} ${plan.setup.padEnd(9)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms${bad ? `  (${bad} non-2xx/errors!)` : ''}`);
    }
  }
  // The statement profile costs the server CPU on every statement (its grouping key is built from the SQL text), so it
  // runs in a pass of its own, after the measured rounds, and none of its figures are averaged into the results.
  for (const plan of plans.filter((p) => p.profile)) {
    const t = target(stack, data, plan);
    await profiledRun(stack, plan, () => runLoad({ ...t, duration: o.duration, connections: o.connections }), profiles);
  }
  return { results: plans.map((p) => merge(stack.kind, p, runs.get(p)!)), profiles };
}

export async function auditVolume(stack: BenchStack): Promise<{ rows: number; bytes: number }> {
  const r = await stack.db.query<{ rows: number; bytes: number }>(
    "select (select count(*)::int from audit_log) as rows, pg_total_relation_size('audit_log')::bigint as bytes",
  );
  return { rows: Number(r.rows[0].rows), bytes: Number(r.rows[0].bytes) };
}
