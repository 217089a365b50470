import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Observation, OperationOutcome } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken } from '../support/tokens.ts';

const kinds = await databaseKinds();
const OTHER = 'http://other.example.org/fhir';

/**
 * Reference search (FHIR R4 §3.1.1.4.13): relative, bare id, typed id, versioned, and absolute references, which are
 * local only under this server's base; a reference to another server never stands for a local resource.
 */
describe.each(kinds)('reference search on %s', (kind) => {
  let server: TestServer;
  let token: string;
  let base: string;
  let patient: string;
  let group: string;
  const obs: Record<string, string> = {};
  const call = (method: string, url: string, body?: unknown) =>
    server.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, payload: body === undefined ? undefined : JSON.stringify(body) });
  const create = async (body: { resourceType: string }) => {
    const res = await call('POST', `/fhir/${body.resourceType}`, body);
    expect(res.statusCode, res.body).toBe(201);
    return (res.json() as { id: string }).id;
  };
  const observation = (reference: string): Observation => ({ resourceType: 'Observation', status: 'final', code: { text: 'ref test' }, subject: { reference } });
  /** The names (keys of `obs`) of the Observations a search matched, and the keys of what it included. */
  const search = async (query: string) => {
    const res = await call('GET', `/fhir/Observation?code:text=ref%20test&${query}`);
    expect(res.statusCode, `${query}: ${res.body}`).toBe(200);
    const entry = (res.json() as Bundle).entry ?? [];
    const names = new Map(Object.entries(obs).map(([name, id]) => [id, name]));
    return {
      matches: entry.filter((e) => e.search?.mode === 'match').map((e) => names.get(e.resource!.id!)).sort(),
      included: entry.filter((e) => e.search?.mode === 'include').map((e) => `${e.resource!.resourceType}/${e.resource!.id}`),
    };
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    base = server.services.fhirBase;
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'References Hospital' }));
    token = await systemClientToken(server, 'references-ehr', org.resource.id!);
    patient = await create({ resourceType: 'Patient', name: [{ family: 'Reference' }] } as { resourceType: string });
    // A Group with the same id as the Patient, so a bare id is ambiguous between the two allowed target types.
    group = (await call('PUT', `/fhir/Group/${patient}`, { resourceType: 'Group', id: patient, type: 'person', actual: true })).json().id;
    obs.relative = await create(observation(`Patient/${patient}`));
    obs.versioned = await create(observation(`Patient/${patient}/_history/1`));
    obs.ownAbsolute = await create(observation(`${base}/Patient/${patient}`));
    obs.foreign = await create(observation(`${OTHER}/Patient/${patient}`));
    obs.foreignVersioned = await create(observation(`${OTHER}/Patient/${patient}/_history/3`));
    obs.group = await create(observation(`Group/${group}`));
    // Not a target type of Observation.subject (the validator lets it through): a bare id does not stand for it.
    obs.practitioner = await create(observation(`Practitioner/${patient}`));
  });
  afterAll(async () => server?.stop());

  it('Type/id, Type:id and this server\'s absolute URL match local references, versioned or not, never another server\'s', async () => {
    const local = ['ownAbsolute', 'relative', 'versioned'];
    expect((await search(`subject=Patient/${patient}`)).matches).toEqual(local);
    expect((await search(`subject:Patient=${patient}`)).matches).toEqual(local);
    expect((await search(`subject=${encodeURIComponent(`${base}/Patient/${patient}`)}`)).matches).toEqual(local);
    expect((await search(`patient=${patient}`)).matches).toEqual(local);
  });

  it('a bare id matches local references of every target type the parameter allows, and no other', async () => {
    expect((await search(`subject=${patient}`)).matches).toEqual(['group', 'ownAbsolute', 'relative', 'versioned']);
    expect((await search(`subject:Group=${patient}`)).matches).toEqual(['group']);
  });

  it('a type the parameter does not allow is a 400 naming the parameter and its target types, as Type/id or :Type', async () => {
    const queries = [
      `subject=Practitioner/${patient}`,
      `subject:Practitioner=${patient}`,
      `subject=${encodeURIComponent(`${base}/Practitioner/${patient}`)}`,
      `subject=Patient/${patient},Practitioner/${patient}`,
      `subject:Practitioner.name=x`,
      `_has:Observation:subject:subject=Practitioner/${patient}`,
    ];
    for (const query of queries) {
      const res = await call('GET', `/fhir/${query.startsWith('_has') ? 'Patient' : 'Observation'}?${query}`);
      expect(res.statusCode, `${query}: ${res.body}`).toBe(400);
      const issue = (res.json() as OperationOutcome).issue[0];
      expect(issue.diagnostics, query).toContain("'subject'");
      expect(issue.diagnostics, query).toContain('Practitioner');
      for (const allowed of ['Device', 'Group', 'Location', 'Patient']) expect(issue.diagnostics, query).toContain(allowed);
      expect(issue.expression, query).toEqual(['subject']);
    }
    // A parameter of a single target type names it too.
    const res = await call('GET', `/fhir/Observation?patient=Group/${patient}`);
    expect(res.statusCode, res.body).toBe(400);
    expect((res.json() as OperationOutcome).issue[0].diagnostics).toContain('Patient');
    // Another server's URL is not a local reference: any type may be named in it.
    expect((await search(`subject=${encodeURIComponent(`${OTHER}/Practitioner/${patient}`)}`)).matches).toEqual([]);
  });

  it('another server\'s URL matches its references alone, versioned or not', async () => {
    expect((await search(`subject=${encodeURIComponent(`${OTHER}/Patient/${patient}`)}`)).matches).toEqual(['foreign', 'foreignVersioned']);
  });

  it('_include and _revinclude follow local references only', async () => {
    const own = await search(`_id=${obs.ownAbsolute},${obs.foreign}&_include=Observation:subject`);
    expect(own.included).toEqual([`Patient/${patient}`]);
    expect((await search(`_id=${obs.foreign}&_include=Observation:subject`)).included).toEqual([]);
    const res = await call('GET', `/fhir/Patient?_id=${patient}&_revinclude=Observation:subject`);
    const revincluded = ((res.json() as Bundle).entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => e.resource!.id).sort();
    expect(revincluded).toEqual([obs.relative, obs.versioned, obs.ownAbsolute].sort());
  });

  it('a reference to another server\'s Patient puts nothing in the local Patient\'s compartment; this server\'s absolute URL does', async () => {
    const rows = await run<{ id: string; patient_id: string | null }>(server.services.db,
      sql`select id, patient_id from resources where resource_type = 'Observation' and id = any(${[obs.foreign, obs.foreignVersioned, obs.relative, obs.ownAbsolute]}::text[])`);
    const owner = new Map(rows.map((r) => [r.id, r.patient_id]));
    expect(owner.get(obs.relative)).toBe(patient);
    expect(owner.get(obs.ownAbsolute)).toBe(patient);
    expect(owner.get(obs.foreign)).toBeNull();
    expect(owner.get(obs.foreignVersioned)).toBeNull();
  });
});
