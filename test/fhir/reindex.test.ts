import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Observation } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { main } from '../../src/main.ts';
import { parseReindexArgs } from '../../src/cli/reindex-commands.ts';
import { reindexAll, reindexCommand } from '../../src/store/search/reindex.ts';
import { databaseKinds } from '../support/databases.ts';
import { runCli, startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken } from '../support/tokens.ts';

const kinds = await databaseKinds();
const OTHER = 'http://other.example.org/fhir';
const TABLES = ['search_string', 'search_token', 'search_date', 'search_reference', 'search_quantity', 'search_number', 'search_uri'];

/**
 * `katahdin reindex`: the index rows of every current resource are rebuilt by the write path's own writer, so after
 * rows were lost, altered or written by an older extraction (another server's `…/Patient/123` indexed as the local
 * Patient 123), the index is again exactly what writing each resource produced; deleted resources get no rows.
 */
describe.each(kinds)('reindex on %s', (kind) => {
  let server: TestServer;
  let token: string;
  let base: string;
  let patient: string;
  let deleted: string;
  const obs: Record<string, string> = {};
  /** Every index row of every resource, as written by the write path when the resources were stored. */
  let fresh: Map<string, string[]>;

  const call = (method: string, url: string, body?: unknown) =>
    server.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, payload: body === undefined ? undefined : JSON.stringify(body) });
  const create = async (body: { resourceType: string }) => {
    const res = await call('POST', `/fhir/${body.resourceType}`, body);
    expect(res.statusCode, res.body).toBe(201);
    return (res.json() as { id: string }).id;
  };
  const observation = (reference: string, extra: Partial<Observation> = {}): Observation =>
    ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }], text: 'reindex test' }, subject: { reference }, ...extra });
  const sqlRun = (text: string, values: unknown[] = []) => server.services.db.query(text, values);

  /** The full set of index rows per resource ("Type/id" → its rows of every table, sorted). */
  async function indexRows(): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const table of TABLES) {
      const r = await server.services.db.query<{ key: string; row: unknown }>(`select resource_type || '/' || id as key, to_jsonb(x) - 'resource_type' - 'id' as row from ${table} x`);
      for (const { key, row } of r.rows) {
        const rows = out.get(key) ?? [];
        rows.push(`${table} ${JSON.stringify(row)}`);
        out.set(key, rows);
      }
    }
    for (const rows of out.values()) rows.sort();
    return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
  }
  const matches = async (query: string) => {
    const res = await call('GET', `/fhir/Observation?code:text=reindex%20test&${query}`);
    expect(res.statusCode, res.body).toBe(200);
    return ((res.json() as Bundle).entry ?? []).map((e) => e.resource!.id!).sort();
  };

  /** What an older extraction and lost writes leave behind. */
  async function corrupt(): Promise<void> {
    // Another server's Patient indexed as the local one (before the fix), and a Patient's name altered.
    await sqlRun(`update search_reference set target_type = 'Patient', target_id = $1 where resource_type = 'Observation' and id = $2 and ref like $3`, [patient, obs.foreign, `${OTHER}/%`]);
    await sqlRun(`insert into search_reference (resource_type, id, param, target_type, target_id, ref) values ('Observation', $1, 'performer', 'Practitioner', '123', $2)`, [obs.foreign, `${OTHER}/Practitioner/123`]);
    await sqlRun(`update search_string set value = 'zzz', raw = 'Zzz' where resource_type = 'Patient' and id = $1 and param = 'family'`, [patient]);
    // Rows lost: every token row of one Observation, every row of every table of another.
    await sqlRun(`delete from search_token where resource_type = 'Observation' and id = $1`, [obs.relative]);
    for (const table of TABLES) await sqlRun(`delete from ${table} where resource_type = 'Observation' and id = $1`, [obs.ownAbsolute]);
  }

  beforeAll(async () => {
    server = await startTestServer(kind);
    base = server.services.fhirBase;
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'Reindex Hospital' }));
    token = await systemClientToken(server, 'reindex-ehr', org.resource.id!);
    patient = await create({ resourceType: 'Patient', name: [{ family: 'Reindex', given: ['Rhea'] }], birthDate: '1970-01-02', gender: 'female' } as { resourceType: string });
    obs.relative = await create(observation(`Patient/${patient}`, { effectiveDateTime: '2024-05-06T07:08:09Z', valueQuantity: { value: 5.4, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' } }));
    obs.ownAbsolute = await create(observation(`${base}/Patient/${patient}`, { performer: [{ reference: `${base}/Organization/${org.resource.id}` }] }));
    obs.foreign = await create(observation(`${OTHER}/Patient/${patient}`, { performer: [{ reference: `${OTHER}/Practitioner/123` }] }));
    deleted = await create(observation(`Patient/${patient}`));
    expect([200, 204]).toContain((await call('DELETE', `/fhir/Observation/${deleted}`)).statusCode);
    fresh = await indexRows();
    expect(fresh.has(`Observation/${deleted}`)).toBe(false);
  }, 120_000);
  afterAll(async () => server?.stop());

  it('changes nothing on an index the write path has just written', async () => {
    const report = await reindexAll(server.services.db, { base });
    expect(report.types.Observation).toBe(3);
    expect(report.types.Patient).toBe(1);
    expect(await indexRows()).toEqual(fresh);
  });

  it('rebuilds lost, altered and stale rows to what writing each resource produced, in batches', async () => {
    await corrupt();
    expect(await indexRows()).not.toEqual(fresh);
    // The stale row makes another server's reference match the local Patient.
    expect(await matches(`subject=Patient/${patient}`)).toContain(obs.foreign);
    const progress: number[] = [];
    const report = await reindexAll(server.services.db, { base, batchSize: 2, onBatch: (p) => progress.push(p.total) });
    expect(report.total).toBe(Object.values(report.types).reduce((a, b) => a + b, 0));
    expect(report.batches).toBe(Math.ceil(report.total / 2));
    expect(progress.at(-1)).toBe(report.total);
    expect(await indexRows()).toEqual(fresh);
    expect(await matches(`subject=Patient/${patient}`)).toEqual([obs.relative, obs.ownAbsolute].sort());
    expect(await matches(`subject=${encodeURIComponent(`${OTHER}/Patient/${patient}`)}`)).toEqual([obs.foreign]);
  });

  it('--type limits it to those types and counts each', async () => {
    await corrupt();
    const lines: string[] = [];
    expect(await reindexCommand(server.services.db, { base, types: ['Patient', 'Encounter'], everyMs: 0 }, (l) => lines.push(l))).toBe(0);
    expect(lines).toContain('Patient: 1 reindexed');
    expect(lines).toContain('Encounter: 0 reindexed');
    const now = await indexRows();
    expect(now.get(`Patient/${patient}`)).toEqual(fresh.get(`Patient/${patient}`));
    expect(now.get(`Observation/${obs.relative}`)).not.toEqual(fresh.get(`Observation/${obs.relative}`));
    await reindexAll(server.services.db, { base, types: ['Observation'] });
    expect(await indexRows()).toEqual(fresh);
  });

  it('refuses an unknown type or a stray argument before opening the database', async () => {
    expect(parseReindexArgs(['--type', 'Observation', '--type=Patient,Encounter'])).toEqual({ types: ['Observation', 'Patient', 'Encounter'], rebase: false });
    expect(parseReindexArgs(['--rebase'])).toEqual({ types: [], rebase: true });
    expect(() => parseReindexArgs(['--rebase', '--type', 'Patient'])).toThrow(/--rebase rebuilds every type/);
    expect(() => parseReindexArgs(['--type', 'observation'])).toThrow(/unknown resource type "observation"/);
    expect(() => parseReindexArgs(['--type'])).toThrow(/--type needs a resource type/);
    expect(() => parseReindexArgs(['Observation'])).toThrow(/unexpected argument "Observation"/);
    expect(() => parseReindexArgs(['--types', 'Observation'])).toThrow(/unknown option --types/);
    expect(await main(['reindex', '--type', 'Nonsense'])).toBe(2);
  });

  it.runIf(kind === 'postgres')('runs as `katahdin reindex` against the server\'s database while it runs', async () => {
    await corrupt();
    const bad = await runCli(server, 'reindex', '--type', 'Patient', '--type', 'Nonsense');
    expect(bad.code).toBe(2);
    expect(bad.out).toContain('katahdin reindex: unknown resource type "Nonsense"');
    // The command rebuilds for the base the server recorded, whatever PUBLIC_URL its own environment has.
    const previous = process.env.PUBLIC_URL;
    process.env.PUBLIC_URL = 'http://cli.example.org';
    try {
      const out = await runCli(server, 'reindex');
      expect(out.code, out.out).toBe(0);
      expect(out.out).toContain('Observation: 3 reindexed');
      expect(out.out).toContain('Patient: 1 reindexed');
      expect(out.out).toContain(`(FHIR base ${base})`);
      expect(out.out).toContain('PUBLIC_URL here gives FHIR base http://cli.example.org/fhir');
    } finally {
      if (previous === undefined) delete process.env.PUBLIC_URL;
      else process.env.PUBLIC_URL = previous;
    }
    expect(await indexRows()).toEqual(fresh);
  }, 120_000);
});
