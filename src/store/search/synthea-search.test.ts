import type { Resource } from '@medplum/fhirtypes';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../database.ts';
import { run } from '../database.ts';
import { migrate } from '../migrate.ts';
import { openPglite } from '../pglite-database.ts';
import { openPostgres } from '../postgres-database.ts';
import { raw, sql } from '../sql.ts';
import { compileSearch } from './compile.ts';
import { compileIncludes } from './includes.ts';
import { parseSearch } from './parse.ts';
import type { J } from './synthea-cases.ts';
import { countCases, PATIENT, supplement } from './synthea-cases.ts';
import { loadSynthea, storeSynthea, syntheaPresent } from './synthea-fixture.ts';

const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const filter = () => sql`true`;

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

if (!syntheaPresent) console.warn('corpus ../shared/corpora/synthea-r4 absent: skipping Synthea search tests');
const pgUp = syntheaPresent && (await postgresReachable());
if (syntheaPresent && !pgUp) console.warn(`PostgreSQL not reachable at ${PG_URL}: skipping the PostgreSQL run`);

function query(text: string): [string, Array<[string, string]>] {
  const [type, qs] = text.split('?');
  return [type, [...new URLSearchParams(qs)]];
}

/** A filter split per person that admits every row: the statement shapes (row filter, keys first, split) must agree. */
const admitAll = { columns: () => sql`true as fact_ok`, carried: (f: string) => raw(`${f}.fact_ok`), condition: () => sql`true` };

async function search(db: Database, text: string) {
  const [type, q] = query(text);
  const { request } = parseSearch(type, q, { strict: true });
  const compiled = compileSearch(request, { filter });
  const page = await run<{ resource_type: string; id: string; content: Resource }>(db, compiled.page);
  const [{ total }] = await run<{ total: number }>(db, compiled.count);
  expect((await run<{ id: string; total_matches: number }>(db, compiled.pageWithTotal)).map((r) => [r.id, r.total_matches]), text)
    .toEqual(page.map((r) => [r.id, total]));
  const split = compileSearch(request, { filter, perPerson: admitAll });
  expect((await run<{ id: string }>(db, split.page)).map((r) => r.id), text).toEqual(page.map((r) => r.id));
  expect((await run<{ total: number }>(db, split.count))[0].total, text).toBe(total);
  expect((await run<{ id: string; total_matches: number }>(db, split.pageWithTotal)).map((r) => [r.id, r.total_matches]), text)
    .toEqual(page.map((r) => [r.id, total]));
  const inc = compileIncludes(request, page.map((r) => ({ resourceType: r.resource_type, id: r.id })), { filter, limit: 1000 });
  const included = inc ? await run<{ resource_type: string; id: string; search_mode: string }>(db, inc) : [];
  return { total, page, included };
}

const backends: Array<[string, boolean]> = [['pglite', true], ['postgres', pgUp]];

describe.skipIf(!syntheaPresent).each(backends)('Synthea search counts on %s', (name, enabled) => {
  let db: Database;
  let all: J[] = [];
  const schema = `search_test_${process.pid}`;
  const now = Date.now();

  beforeAll(async () => {
    if (!enabled) return;
    const bundles = [...loadSynthea(), supplement()];
    all = bundles.flat();
    if (name === 'postgres') {
      const admin = new pg.Client(PG_URL);
      await admin.connect();
      await admin.query(`create schema ${schema}`);
      await admin.end();
      db = await openPostgres({ url: PG_URL, schema });
    } else db = await openPglite();
    await migrate(db);
    const t0 = performance.now();
    const indexSeconds = (await storeSynthea(db, bundles)) / 1000;
    const seconds = (performance.now() - t0) / 1000;
    console.info(
      `[${name}] stored and indexed ${all.length} resources in ${seconds.toFixed(1)} s (${Math.round(all.length / seconds)} resources/s); ` +
        `writeIndex alone ${indexSeconds.toFixed(1)} s (${Math.round(all.length / indexSeconds)} resources/s)`,
    );
  }, 120_000);

  afterAll(async () => {
    if (!enabled) return;
    await db.close();
    if (name === 'postgres') {
      const admin = new pg.Client(PG_URL);
      await admin.connect();
      await admin.query(`drop schema ${schema} cascade`);
      await admin.end();
    }
  });

  it.skipIf(!enabled).each(countCases(now).map((c) => [c.query, c] as const))('%s', async (_q, c) => {
    const { total, page } = await search(db, c.query);
    const expected = c.expected(all);
    expect(total).toBe(expected);
    expect(page.length).toBe(Math.min(expected, 20));
  });

  it.skipIf(!enabled)('the expected counts are not trivial', () => {
    const cases = countCases(now);
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect(cases.filter((c) => c.expected(all) > 0).length).toBeGreaterThanOrEqual(40);
  });

  it.skipIf(!enabled)('_include brings the referenced patient once', async () => {
    const r = await search(db, `Observation?patient=${PATIENT}&code=8302-2&_include=Observation:patient`);
    expect(r.page.length).toBeGreaterThan(0);
    expect(r.included.map((x) => `${x.resource_type}/${x.id}`)).toEqual([PATIENT]);
    expect(r.included[0].search_mode).toBe('include');
  });

  it.skipIf(!enabled)('_revinclude and _include:iterate', async () => {
    const pid = PATIENT.slice(8);
    const encounters = all.filter((x) => x.resourceType === 'Encounter' && x.subject.reference === PATIENT);
    const orgs = new Set(encounters.map((e) => e.serviceProvider.reference));
    const r = await search(db, `Patient?_id=${pid}&_revinclude=Encounter:patient&_include:iterate=Encounter:service-provider`);
    const keys = r.included.map((x) => `${x.resource_type}/${x.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.filter((k) => k.startsWith('Encounter/')).length).toBe(encounters.length);
    expect(new Set(keys.filter((k) => k.startsWith('Organization/')))).toEqual(orgs);
    const conds = all.filter((x) => x.resourceType === 'Condition' && x.subject.reference === PATIENT).length;
    expect((await search(db, `Patient?_id=${pid}&_revinclude=Condition:patient`)).included.length).toBe(conds);
  });

  it.skipIf(!enabled)('_sort by date descending, then id; paging is stable and disjoint', async () => {
    const patients = all.filter((x) => x.resourceType === 'Patient');
    const expected = [...patients].sort((a, b) => b.birthDate.localeCompare(a.birthDate) || a.id.localeCompare(b.id)).map((p) => p.id);
    const first = await search(db, 'Patient?_sort=-birthdate,_id&_count=7');
    const second = await search(db, 'Patient?_sort=-birthdate,_id&_count=7&_offset=7');
    expect([...first.page, ...second.page].map((p) => p.id)).toEqual(expected.slice(0, 14));
    const byFamily = await search(db, 'Patient?_sort=family&_count=3');
    const fam = (p: J) => p.name.map((n: J) => n.family.toLowerCase()).sort()[0];
    const sorted = [...patients].sort((a, b) => fam(a).localeCompare(fam(b)) || (a.id < b.id ? -1 : 1));
    expect(byFamily.page.map((p) => p.id)).toEqual(sorted.slice(0, 3).map((p) => p.id));
  });

  it.skipIf(!enabled)('patient + code + date search latency', async () => {
    const q = `Observation?patient=${PATIENT}&code=http://loinc.org|8302-2&date=ge2010&_count=20`;
    await search(db, q);
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) await search(db, q);
    console.info(`[${name}] patient+code+date search (page+count): ${((performance.now() - t0) / 20).toFixed(1)} ms`);
  });
});
