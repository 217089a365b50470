import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken } from '../support/tokens.ts';

const kinds = await databaseKinds();
const LIMIT = 3;

/** `_include` / `_revinclude`: the wildcard, `:iterate`, and the limit of included resources per page (`SEARCH_MAX_INCLUDES`). */
describe.each(kinds)('_include and _revinclude on %s', (kind) => {
  let server: TestServer;
  let token: string;
  const call = (method: string, url: string, body?: unknown) =>
    server.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, payload: body === undefined ? undefined : JSON.stringify(body) });
  const create = async (body: { resourceType: string } & Record<string, unknown>) => {
    const res = await call('POST', `/fhir/${body.resourceType}`, body);
    expect(res.statusCode, res.body).toBe(201);
    return (res.json() as { id: string }).id;
  };
  const observation = (patient: string, extra: Record<string, unknown> = {}) =>
    create({ resourceType: 'Observation', status: 'final', code: { text: 'include test' }, subject: { reference: `Patient/${patient}` }, ...extra });
  const search = async (query: string) => {
    const res = await call('GET', `/fhir/${query}`);
    expect(res.statusCode, res.body).toBe(200);
    const entry = (res.json() as Bundle).entry ?? [];
    const keys = (mode: string) => entry.filter((e) => e.search?.mode === mode).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`).sort();
    const outcome = entry.find((e) => e.search?.mode === 'outcome')?.resource as OperationOutcome | undefined;
    return { matches: keys('match'), included: keys('include'), issues: outcome?.issue ?? [] };
  };

  beforeAll(async () => {
    server = await startTestServer(kind, { searchMaxIncludes: LIMIT });
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'Include Hospital' }));
    token = await systemClientToken(server, 'include-ehr', org.resource.id!);
  });
  afterAll(async () => server?.stop());

  it('a page whose includes reach the limit holds that many and says so in an outcome entry; one below it says nothing', async () => {
    const many = await create({ resourceType: 'Patient', name: [{ family: 'Many' }] });
    const few = await create({ resourceType: 'Patient', name: [{ family: 'Few' }] });
    for (let i = 0; i < LIMIT + 2; i++) await observation(many);
    for (let i = 0; i < LIMIT - 1; i++) await observation(few);

    for (const query of [`Patient?_id=${many}&_revinclude=Observation:subject`, `Patient?_id=${many}&_revinclude=*`]) {
      const cut = await search(query);
      expect(cut.matches, query).toEqual([`Patient/${many}`]);
      expect(cut.included, query).toHaveLength(LIMIT);
      expect(cut.issues, query).toEqual([expect.objectContaining({ severity: 'warning', code: 'incomplete', diagnostics: expect.stringContaining(`limit of ${LIMIT} included resources`) })]);
    }
    const whole = await search(`Patient?_id=${few}&_revinclude=Observation:subject`);
    expect(whole.included).toHaveLength(LIMIT - 1);
    expect(whole.issues).toEqual([]);
  });

  it('the warning joins the unsupported parameters\' in one outcome', async () => {
    const patient = await create({ resourceType: 'Patient', name: [{ family: 'Both' }] });
    for (let i = 0; i < LIMIT; i++) await observation(patient);
    const res = await search(`Patient?_id=${patient}&_revinclude=Observation:subject&bogus=1`);
    expect(res.issues.map((i) => i.code)).toEqual(['not-supported', 'incomplete']);
  });

  it('_include=* follows every reference parameter of the searched type', async () => {
    const patient = await create({ resourceType: 'Patient', name: [{ family: 'Star' }] });
    const practitioner = await create({ resourceType: 'Practitioner', name: [{ family: 'Performer' }] });
    const obs = await observation(patient, { performer: [{ reference: `Practitioner/${practitioner}` }] });
    const res = await search(`Observation?_id=${obs}&_include=*`);
    expect(res.included).toEqual([`Patient/${patient}`, `Practitioner/${practitioner}`]);
    expect(res.issues).toEqual([]);
  });

  it('_include:iterate=* follows the references of what it included as well', async () => {
    const parent = await create({ resourceType: 'Organization', name: 'Parent' });
    const child = await create({ resourceType: 'Organization', name: 'Child', partOf: { reference: `Organization/${parent}` } });
    const patient = await create({ resourceType: 'Patient', name: [{ family: 'Iterated' }], managingOrganization: { reference: `Organization/${child}` } });
    expect((await search(`Patient?_id=${patient}&_include=*`)).included).toEqual([`Organization/${child}`]);
    expect((await search(`Patient?_id=${patient}&_include:iterate=*`)).included).toEqual([`Organization/${child}`, `Organization/${parent}`].sort());
  });

  it('_include:iterate over a cycle of references includes each resource once and ends', async () => {
    const patient = await create({ resourceType: 'Patient', name: [{ family: 'Cycle' }] });
    const a = await observation(patient);
    const b = await observation(patient, { hasMember: [{ reference: `Observation/${a}` }] });
    const put = await call('PUT', `/fhir/Observation/${a}`, { resourceType: 'Observation', id: a, status: 'final', code: { text: 'include test' }, subject: { reference: `Patient/${patient}` }, hasMember: [{ reference: `Observation/${b}` }] });
    expect(put.statusCode, put.body).toBe(200);
    const res = await search(`Observation?_id=${a}&_include:iterate=Observation:has-member&_include:iterate=Observation:subject`);
    expect(res.matches).toEqual([`Observation/${a}`]);
    expect(res.included).toEqual([`Observation/${b}`, `Patient/${patient}`]);
    expect(res.issues).toEqual([]);
  });

  describe(':iterate to a fixed point', () => {
    /** Locations, each part of the next: `chain[0]` partOf `chain[1]`, … */
    const locations = async (n: number) => {
      const chain: string[] = [];
      for (let i = 0; i < n; i++) chain.push(await create({ resourceType: 'Location', name: `Level ${i}` }));
      for (let i = 0; i + 1 < n; i++) {
        const put = await call('PUT', `/fhir/Location/${chain[i]}`, { resourceType: 'Location', id: chain[i], name: `Level ${i}`, partOf: { reference: `Location/${chain[i + 1]}` } });
        expect(put.statusCode, put.body).toBe(200);
      }
      return chain;
    };
    let wide: TestServer;
    let wideToken: string;
    beforeAll(async () => {
      // A limit that does not cut these chains short.
      wide = await startTestServer(kind, { searchMaxIncludes: 20 });
      const org = await wide.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
        wide.services.records.create(scope, { resourceType: 'Organization', name: 'Iterate Hospital' }));
      wideToken = await systemClientToken(wide, 'iterate-ehr', org.resource.id!);
    });
    afterAll(async () => wide?.stop());
    const onWide = async <T>(fn: () => Promise<T>): Promise<T> => {
      const [s, t] = [server, token];
      [server, token] = [wide, wideToken];
      try {
        return await fn();
      } finally {
        [server, token] = [s, t];
      }
    };

    it('follows three levels: MedicationRequest → Encounter → Location → Location.partOf', () => onWide(async () => {
      const patient = await create({ resourceType: 'Patient', name: [{ family: 'Levels' }] });
      const [ward, building] = await locations(2);
      const encounter = await create({ resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' }, subject: { reference: `Patient/${patient}` }, location: [{ location: { reference: `Location/${ward}` } }] });
      const request = await create({ resourceType: 'MedicationRequest', status: 'active', intent: 'order', medicationCodeableConcept: { text: 'aspirin' }, subject: { reference: `Patient/${patient}` }, encounter: { reference: `Encounter/${encounter}` } });
      const res = await search(`MedicationRequest?_id=${request}&_include=MedicationRequest:encounter&_include:iterate=Encounter:location&_include:iterate=Location:partof`);
      expect(res.matches).toEqual([`MedicationRequest/${request}`]);
      expect(res.included).toEqual([`Encounter/${encounter}`, `Location/${building}`, `Location/${ward}`].sort());
      expect(res.issues).toEqual([]);
    }));

    it('_revinclude:iterate follows three levels back: Patient ← Encounter ← Observation ← Observation.hasMember', () => onWide(async () => {
      const patient = await create({ resourceType: 'Patient', name: [{ family: 'Back' }] });
      const encounter = await create({ resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: `Patient/${patient}` } });
      const member = await create({ resourceType: 'Observation', status: 'final', code: { text: 'member' }, encounter: { reference: `Encounter/${encounter}` } });
      const panel = await create({ resourceType: 'Observation', status: 'final', code: { text: 'panel' }, hasMember: [{ reference: `Observation/${member}` }] });
      const res = await search(`Patient?_id=${patient}&_revinclude=Encounter:patient&_revinclude:iterate=Observation:encounter&_revinclude:iterate=Observation:has-member`);
      expect(res.included).toEqual([`Encounter/${encounter}`, `Observation/${member}`, `Observation/${panel}`].sort());
    }));

    const depthCut = expect.objectContaining({ severity: 'warning', code: 'incomplete', diagnostics: expect.stringContaining('at most 4 levels') });

    it('stops at the fourth included level and says so when more lay beyond it', () => onWide(async () => {
      const chain = await locations(7);
      const res = await search(`Location?_id=${chain[0]}&_include:iterate=Location:partof`);
      expect(res.included).toEqual(chain.slice(1, 5).map((id) => `Location/${id}`).sort());
      expect(res.issues).toEqual([depthCut]);
    }));

    it('_revinclude:iterate cut at the fourth level says so too', () => onWide(async () => {
      const chain = await locations(7);
      const res = await search(`Location?_id=${chain[6]}&_revinclude:iterate=Location:partof`);
      expect(res.included).toEqual(chain.slice(2, 6).map((id) => `Location/${id}`).sort());
      expect(res.issues).toEqual([depthCut]);
    }));

    it('says nothing when the fourth level is the last there is', () => onWide(async () => {
      const chain = await locations(5);
      const res = await search(`Location?_id=${chain[0]}&_include:iterate=Location:partof`);
      expect(res.included).toEqual(chain.slice(1).map((id) => `Location/${id}`).sort());
      expect(res.issues).toEqual([]);
    }));

    it('says nothing when what lay beyond the fourth level is deleted', () => onWide(async () => {
      const chain = await locations(6);
      const del = await call('DELETE', `/fhir/Location/${chain[5]}`);
      expect(del.statusCode, del.body).toBe(200);
      const res = await search(`Location?_id=${chain[0]}&_include:iterate=Location:partof`);
      expect(res.included).toEqual(chain.slice(1, 5).map((id) => `Location/${id}`).sort());
      expect(res.issues).toEqual([]);
    }));

    it('says nothing when what lies beyond the fourth level was already included (a cycle)', () => onWide(async () => {
      const chain = await locations(5);
      const put = await call('PUT', `/fhir/Location/${chain[4]}`, { resourceType: 'Location', id: chain[4], name: 'Level 4', partOf: { reference: `Location/${chain[1]}` } });
      expect(put.statusCode, put.body).toBe(200);
      const res = await search(`Location?_id=${chain[0]}&_include:iterate=Location:partof`);
      expect(res.included).toEqual(chain.slice(1).map((id) => `Location/${id}`).sort());
      expect(res.issues).toEqual([]);
    }));

    it('a cycle of three includes each resource once and ends', () => onWide(async () => {
      const chain = await locations(3);
      const put = await call('PUT', `/fhir/Location/${chain[2]}`, { resourceType: 'Location', id: chain[2], name: 'Level 2', partOf: { reference: `Location/${chain[0]}` } });
      expect(put.statusCode, put.body).toBe(200);
      for (const start of chain) {
        const res = await search(`Location?_id=${start}&_include:iterate=Location:partof&_revinclude:iterate=Location:partof`);
        expect(res.matches).toEqual([`Location/${start}`]);
        expect(res.included).toEqual(chain.filter((id) => id !== start).map((id) => `Location/${id}`).sort());
        expect(res.issues).toEqual([]);
      }
    }));

    it('the limit of included resources still holds across levels', async () => {
      const chain = await locations(LIMIT + 2);
      const res = await search(`Location?_id=${chain[0]}&_include:iterate=Location:partof`);
      expect(res.included).toEqual(chain.slice(1, LIMIT + 1).map((id) => `Location/${id}`).sort());
      expect(res.issues.map((i) => i.code)).toEqual(['incomplete']);
    });

    it('a page cut by both limits names both', async () => {
      const chain = await locations(LIMIT + 3);
      const res = await search(`Location?_id=${chain[0]}&_include:iterate=Location:partof`);
      expect(res.included).toEqual(chain.slice(1, LIMIT + 1).map((id) => `Location/${id}`).sort());
      expect(res.issues).toEqual([expect.objectContaining({ diagnostics: expect.stringContaining(`limit of ${LIMIT} included resources`) }), depthCut]);
    });
  });
});
