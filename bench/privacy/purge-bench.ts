// Privacy benchmarks (issue 6): opt-out purge time for a person with N resources, and the time of searches and of
// `$everything` with the label/consent privacy filter on (a clinician) vs off (an internal context) on the same data
// in the same run.
// Usage: node bin/run-ts.mjs bench/privacy/purge-bench.ts [--resources 10000] [--others 40] [--queries 150]
//   [--org-patients 300000] [--db pglite|postgres|all]
// --org-patients: care relationships of the clinician's organization with that many more patients (fact rows only, no
// records), so the filter is measured at the size of a large hospital rather than of the 41 seeded patients.
import { parseArgs } from 'node:util';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { systemContext, type AccessContext } from '../../src/access/context.ts';
import { buildOptOut } from '../../src/privacy/consent.ts';
import { verifyPurge } from '../../src/privacy-ops/verify-purge.ts';
import { databaseKinds } from '../../test/support/databases.ts';
import { startTestServer, type TestServer } from '../../test/support/test-server.ts';

const { values } = parseArgs({
  options: {
    resources: { type: 'string', default: '10000' },
    others: { type: 'string', default: '40' },
    queries: { type: 'string', default: '150' },
    'org-patients': { type: 'string', default: '300000' },
    db: { type: 'string', default: 'all' },
  },
});
const N = Number(values.resources);
const OTHERS = Number(values.others);
const QUERIES = Number(values.queries);
const ORG_PATIENTS = Number(values['org-patients']);
const BATCH = 500;
const internal = systemContext('privacy bench');

const sensitive = [
  { system: 'http://loinc.org', code: '75622-1' }, // HIV
  { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'F32.9' }, // depression
];
const plain = [{ system: 'http://loinc.org', code: '2345-7' }, { system: 'http://loinc.org', code: '8867-4' }];

/** One person's record: a visit from the organization (care relationship) and `count` observations, 1 in 10 labelled. */
function recordEntries(patientId: string, count: number, day: Date): BundleEntry[] {
  const subject = { reference: `Patient/${patientId}` };
  const entries: BundleEntry[] = [];
  for (let i = 0; i < count; i++) {
    const code = i % 10 === 0 ? sensitive[(i / 10) % 2] : plain[i % 2];
    const resource: Resource = code.system.includes('icd')
      ? { resourceType: 'Condition', subject, code: { coding: [code] }, recordedDate: day.toISOString() }
      : { resourceType: 'Observation', status: 'final', subject, code: { coding: [code] }, effectiveDateTime: new Date(day.getTime() - i * 60_000).toISOString(), valueQuantity: { value: i % 200 } };
    entries.push({ resource, request: { method: 'POST', url: resource.resourceType } });
  }
  return entries;
}

async function createPatient(server: TestServer, org: string, n: number): Promise<string> {
  const s = server.services;
  const ctx: AccessContext = { ...internal, organizationId: org };
  const out = await s.gate.run(ctx, { action: 'create' }, (scope) => s.records.create(scope, {
    resourceType: 'Patient', identifier: [{ system: 'urn:katahdin:id:BENCH', value: `B${n}` }],
    name: [{ family: `Benchperson${n}`, given: [`Given${n % 97}`] }], gender: n % 2 ? 'female' : 'male', birthDate: `19${50 + (n % 49)}-0${1 + (n % 9)}-1${n % 9}`,
  }));
  return out.resource.id!;
}

async function seed(server: TestServer, org: string, patientId: string, count: number): Promise<void> {
  const s = server.services;
  const ctx: AccessContext = { ...internal, organizationId: org };
  const day = new Date(Date.now() - 86_400_000);
  const visit: BundleEntry = { resource: { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${patientId}` }, period: { start: day.toISOString() } }, request: { method: 'POST', url: 'Encounter' } };
  const entries = [visit, ...recordEntries(patientId, count - 1, day)];
  for (let i = 0; i < entries.length; i += BATCH) {
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: entries.slice(i, i + BATCH) };
    await s.transactions.execute(ctx, bundle);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Alternates clinician and internal runs of the same access so load on the shared machine hits both alike. */
async function filterCost(clinician: AccessContext, access: (ctx: AccessContext) => Promise<number>) {
  const one = async (ctx: AccessContext) => {
    const t = performance.now();
    const total = await access(ctx);
    return { ms: performance.now() - t, total };
  };
  for (let i = 0; i < 10; i++) {
    await one(clinician);
    await one(internal);
  }
  const on: number[] = [];
  const off: number[] = [];
  const totals = { on: 0, off: 0 };
  for (let i = 0; i < QUERIES; i++) {
    const first = i % 2 ? clinician : internal;
    const second = first === clinician ? internal : clinician;
    for (const ctx of [first, second]) {
      const r = await one(ctx);
      (ctx === clinician ? on : off).push(r.ms);
      totals[ctx === clinician ? 'on' : 'off'] = r.total;
    }
  }
  const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
  return {
    medianOn: median(on), medianOff: median(off),
    qpsOn: (1000 * on.length) / sum(on), qpsOff: (1000 * off.length) / sum(off),
    cost: median(on) / median(off) - 1, totals,
  };
}

async function benchKind(kind: 'pglite' | 'postgres'): Promise<void> {
  const server = await startTestServer(kind);
  try {
    const s = server.services;
    const org = (await s.gate.run(internal, { action: 'create' }, (scope) => s.records.create(scope, { resourceType: 'Organization', name: 'Bench Hospital' }))).resource.id!;
    const clinician: AccessContext = { userId: 'bench-clinician', displayName: 'Bench Clinician', role: 'clinician', organizationId: org, scopes: ['user/*.rs'], purposeOfUse: 'TREAT' };
    let t = performance.now();
    const others: string[] = [];
    for (let i = 0; i < OTHERS; i++) {
      others.push(await createPatient(server, org, i + 1));
      await seed(server, org, others[i], 100);
    }
    const target = await createPatient(server, org, 0);
    await seed(server, org, target, N);
    await s.db.query(`insert into mpi_links (patient_id, person_id, assurance) select 'bench-' || g, 'bench-person-' || g, 'level3' from generate_series(1, $1::int) g`, [ORG_PATIENTS]);
    await s.db.query(`insert into care_relationships (patient_id, organization_id, last_date, active) select 'bench-' || g, $1, now(), true from generate_series(1, $2::int) g`, [org, ORG_PATIENTS]);
    // A running server has planner statistics from autovacuum; a freshly seeded bench has to ask for them.
    await s.db.query('analyze');
    const seedS = (performance.now() - t) / 1000;
    console.log(`[${kind}] seeded ${N} resources for the target + ${OTHERS}×100 for others, and ${ORG_PATIENTS} more patients in the organization's care, in ${seedS.toFixed(1)} s`);

    const search = (type: string, query: Array<[string, string]>) => async (ctx: AccessContext) =>
      (await s.gate.run(ctx, { action: 'search' }, (scope) => scope.searchType(type, query, false))).total ?? 0;
    const personId = (await s.db.query<{ person_id: string }>('select person_id from mpi_links where patient_id = $1', [target])).rows[0].person_id;
    const everything = async (ctx: AccessContext) =>
      (await s.gate.run(ctx, { action: 'everything' }, (scope) => scope.personRecord(personId, { count: 100, offset: 0 }))).total;
    for (const [label, access] of [
      ['search one person, Observation?patient, 50/page', search('Observation', [['patient', `Patient/${others[0]}`], ['_count', '50']])],
      ['search cross-person, Observation?code=2345-7, 50/page', search('Observation', [['code', 'http://loinc.org|2345-7'], ['_count', '50']])],
      [`$everything of the person with ${N} resources, 100/page`, everything],
    ] as Array<[string, (ctx: AccessContext) => Promise<number>]>) {
      const r = await filterCost(clinician, access);
      console.log(`[${kind}] ${label}: filter on ${r.medianOn.toFixed(2)} ms (${r.qpsOn.toFixed(0)} q/s, total ${r.totals.on}), off ${r.medianOff.toFixed(2)} ms (${r.qpsOff.toFixed(0)} q/s, total ${r.totals.off}), cost ${(100 * r.cost).toFixed(1)} %`);
    }

    const held = (await s.db.query<{ n: number }>('select count(*)::int as n from resources where person_id = $1', [personId])).rows[0].n;
    t = performance.now();
    await s.gate.run(internal, { action: 'consent' }, (scope) => s.records.create(scope, buildOptOut({ patientRef: `Patient/${target}`, channel: 'paper', date: new Date(Date.now() - 60_000).toISOString(), performer: { display: 'bench' } }), { derived: true }));
    const purgeS = (performance.now() - t) / 1000;
    t = performance.now();
    const v = await verifyPurge(s.db, personId);
    const verifyS = (performance.now() - t) / 1000;
    console.log(`[${kind}] opt-out purge of ${held} resources: ${purgeS.toFixed(2)} s (one transaction); verify-purge ${verifyS.toFixed(2)} s → ${v.ok ? 'verified' : 'INCOMPLETE'}`);
  } finally {
    await server.stop();
  }
}

const kinds = (await databaseKinds()).filter((k) => values.db === 'all' || values.db === k);
for (const kind of kinds) await benchKind(kind);
