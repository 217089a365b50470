import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, BundleEntry, Parameters, Resource } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { BULK_EXPORT_SCOPE, QUERY_ROLE_SCOPE } from '../../src/access/scopes.ts';
import { registeredRoutes } from '../../src/http/routes/index.ts';
import { attestFor, buildCareFixture, ROLES, STATES, type CareFixture, type CareState, type FixtureRole, type ScenarioPerson } from '../support/care-fixture.ts';
import { databaseKinds } from '../support/databases.ts';
import { expectShape, keysOf, LeakOracle, outcomeCode, typeAllowed, type DbRow } from '../support/leak-oracle.ts';
import { exportAll, kickOff } from '../support/bulk-export.ts';
import { RouteCaller, routeKey } from '../support/route-calls.ts';
import { systemClientToken } from '../support/tokens.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const kinds = await databaseKinds();

/** Protected routes this suite exercises with an exact expectation per role × care state. */
const COVERED_ROUTES = [
  'GET /fhir/:type', 'POST /fhir/:type/_search', 'GET /fhir/:type/:id', 'GET /fhir/:type/:id/_history/:vid',
  'GET /fhir/_history', 'GET /fhir/:type/_history', 'GET /fhir/:type/:id/_history', 'POST /fhir',
  'GET /fhir/Patient/:id/$everything', 'POST /fhir/Patient/$match', 'GET /fhir/Patient/$ihe-pix',
  'GET /fhir/Patient/:id/$consent-status', 'GET /fhir/Patient/:id/$access-report', 'GET /fhir/AuditEvent',
  'POST /fhir/AuditEvent/_search', 'GET /fhir/AuditEvent/:id',
  'GET /admin/ingest/stats', 'GET /admin/ingest/errors', 'GET /admin/ingest/errors/:id', 'GET /admin/mpi/tasks', 'GET /admin/mpi/links/:patientId',
  'GET /admin/users', 'GET /admin/clients', 'GET /admin/break-glass', 'GET /admin/attestations', 'GET /admin/unusual-access', 'GET /admin/audit-requests',
  'GET /portal/me', 'GET /portal/audit-requests', 'PUT /fhir/:type/:id', 'DELETE /fhir/:type/:id',
  'GET /fhir/$export', 'POST /fhir/$export', 'GET /fhir/Patient/$export', 'POST /fhir/Patient/$export',
  'GET /fhir/Group/:id/$export', 'POST /fhir/Group/:id/$export', 'GET /fhir/$export-status/:job', 'GET /fhir/$export-file/:job/:file',
];

/** Protected routes that return no record data, each with the reason (writes echo only what the caller sent). */
const NO_RECORD_DATA: Record<string, string> = {
  'POST /fhir/:type': 'create: returns the resource the caller just sent (cross-tenant writes: security.test.ts)',
  'PUT /fhir/:type': 'conditional update: returns the caller\'s own write; the match search is privacy-filtered like GET /fhir/:type',
  'POST /fhir/:type/$validate': 'validates the body sent; reads nothing from the store',
  'POST /fhir/:type/:id/$validate': 'validates the body sent; reads nothing from the store',
  'POST /fhir/Patient/:id/$break-the-glass': 'returns only the grant expiry',
  'GET /fhir/Patient/:id/$break-the-glass': 'returns only whether the caller holds an active grant',
  'POST /fhir/Patient/:id/$attest': 'returns only the attestation expiry',
  'POST /fhir/Patient/:id/$consent': 'returns only the consent state the caller recorded',
  'POST /fhir/Patient/$merge': 'returns only the surviving Person id',
  'POST /admin/mpi/tasks/:id': 'returns only the task status',
  'POST /admin/mpi/unlink': 'returns only the new Person id',
  'POST /admin/mpi/merge': 'returns only the surviving Person id',
  'POST /ccda': 'returns an OperationOutcome about the sender\'s own document (and its Location)',
  'POST /hl7v2': 'returns an HL7 ACK naming only the sender\'s own message control id',
  'POST /admin/ingest/errors/:id/retry': 'returns only the processing status',
  'POST /admin/users': 'returns the account the administrator created',
  'POST /admin/clients': 'returns the client the administrator registered',
  'PUT /admin/users/:username/disabled': 'returns only the account name and its new state',
  'PUT /admin/clients/:clientId/disabled': 'returns only the client id and its new state',
  'POST /admin/break-glass/:seq/review': 'returns the review record (who reviewed, notes)',
  'POST /admin/audit-requests': 'returns the request record (person id, channel, status)',
  'POST /admin/audit-requests/:id/fulfil': 'returns the request record; the report itself is GET $access-report',
  'POST /portal/audit-requests': 'returns the patient\'s own request record',
  'DELETE /fhir/$export-status/:job': 'cancels the caller\'s own export; returns only an OperationOutcome',
};

describe.each(kinds)('leak suite on %s', (kind) => {
  let server: TestServer;
  let f: CareFixture;
  let oracle: LeakOracle;
  let http: RouteCaller;
  let errorId: string;
  const tokenOf = (role: FixtureRole) => f.tokens[role];
  const person = (state: CareState): ScenarioPerson => f.persons[state];
  const byId = <T extends Resource>(b: Bundle<T>, mode = 'match') => (b.entry ?? []).filter((e) => (e.search?.mode ?? 'match') === mode).map((e) => e.resource!);

  beforeAll(async () => {
    server = await startTestServer(kind);
    http = new RouteCaller(server, () => registeredRoutes);
    f = await buildCareFixture(server);
    // The attestation state: both users of organization A attest for the person they have never seen.
    expect(await attestFor(server, f.tokens.clinician, f.persons.attestation.patients.B!)).toBe(200);
    expect(await attestFor(server, f.tokens['clinical-staff'], f.persons.attestation.patients.B!)).toBe(200);
    const bad = await http.post('/hl7v2', f.tokens['system-a'], 'MSH|^~\\&|LAB|A|KATAHDIN|HIE|20260101||ORU^R01|CTRL-LEAK|P|2.5\rPID|1||\rOBX|broken', { 'content-type': 'x-application/hl7-v2+er7' });
    expect(bad.status).toBe(200);
    // A Subscription of organization A's system: not part of the shared directory (its headers hold A's credentials).
    const subscription = await http.post('/fhir/Subscription', f.tokens['system-a'], {
      resourceType: 'Subscription', status: 'requested', reason: 'leak suite', criteria: 'Basic?code=never-written',
      channel: { type: 'rest-hook', endpoint: 'https://ehr-a.example.org/hooks', header: ['Authorization: Bearer a-secret'] },
    });
    expect(subscription.status, subscription.body).toBe(201);
    const rows = await server.services.db.query<DbRow>('select resource_type, id, person_id, source_org, security from resources where deleted = false');
    oracle = new LeakOracle(f, rows.rows);
    const errors = await http.get('/admin/ingest/errors', f.tokens.admin);
    errorId = errors.json<Array<{ id: string }>>()[0]?.id ?? 'no-error-message';
  }, 600_000);
  afterAll(async () => server?.stop());

  /** Status and form of a single-resource answer for this role. */
  const expectSingle = (role: FixtureRole, state: CareState, type: string, id: string, res: { status: number; json<T>(): T }) => {
    const view = oracle.viewOf(role, type, id);
    if (view === 'hidden') {
      expect(res.status, `${role} must not see ${type}/${id} (${state})`).toBe(403);
      const body = res.json<Resource & { issue?: [] }>();
      expect(body.resourceType).toBe('OperationOutcome');
      const clinical = role === 'clinician' || role === 'clinical-staff' || role === 'system-a-query';
      const unrelated = role === 'system-a-query' ? state !== 'encounter' : state === 'none' || state === 'expired';
      if (clinical && unrelated) expect(outcomeCode(body)).toBe('no-care-relationship');
      if (clinical && !unrelated) expect(outcomeCode(body)).not.toBe('no-care-relationship');
      return;
    }
    expect(res.status, `${role} reads ${type}/${id} (${state})`).toBe(200);
    const body = res.json<Resource>();
    expect(`${body.resourceType}/${body.id}`).toBe(`${type}/${id}`);
    expectShape(body, view);
  };

  describe.each(ROLES)('role %s', (role) => {
    it.each(STATES)('read, vread and instance history of every resource of a person in state %s', async (state) => {
      for (const ref of person(state).resources) {
        expectSingle(role, state, ref.type, ref.id, await http.get(`/fhir/${ref.type}/${ref.id}`, tokenOf(role)));
        expectSingle(role, state, ref.type, ref.id, await http.get(`/fhir/${ref.type}/${ref.id}/_history/1`, tokenOf(role)));
        const hist = await http.get(`/fhir/${ref.type}/${ref.id}/_history`, tokenOf(role));
        expect(hist.status, `${role} ${ref.type}/${ref.id}/_history`).toBe(typeAllowed(role, ref.type) ? 200 : 403);
        if (hist.status === 403) continue;
        const b = hist.json<Bundle>();
        const visible = oracle.viewOf(role, ref.type, ref.id) !== 'hidden';
        expect(b.total, `history total of ${ref.type}/${ref.id} for ${role}`).toBe(visible ? 1 : 0);
        expect((b.entry ?? []).length).toBe(visible ? 1 : 0);
        if (visible) expectShape(b.entry![0].resource!, oracle.viewOf(role, ref.type, ref.id));
      }
    });

    it.each(STATES)('searches (plain, POST, _include, _revinclude, chained, _has, documents) for a person in state %s', async (state) => {
      const p = person(state);
      const pb = p.patients.B!;
      const ofB = (type: string) => (r: DbRow) => r.resource_type === type && p.resources.some((x) => x.id === r.id && x.org === 'B');
      const ofPerson = (type: string) => (r: DbRow) => r.resource_type === type && r.person_id === p.personId;
      const check = async (url: string, matches: string[], included: string[] = [], post?: string) => {
        const res = post ? await http.post(url, tokenOf(role), post) : await http.get(url, tokenOf(role));
        const allowed = typeAllowed(role, url.split('/')[2].split(/[?/]/)[0]);
        expect(res.status, url).toBe(allowed ? 200 : 403);
        if (!allowed) return;
        const b = res.json<Bundle>();
        expect(keysOf(byId(b)), `${role} ${url} matches`).toEqual(matches);
        expect(keysOf(byId(b, 'include')), `${role} ${url} included`).toEqual(included);
        expect(b.total, `${role} ${url} total counts only what is visible`).toBe(matches.length);
        for (const e of b.entry ?? []) expectShape(e.resource!, oracle.viewOf(role, e.resource!.resourceType, e.resource!.id!));
      };
      const obsB = oracle.visible(role, ofB('Observation'));
      await check(`/fhir/Observation?patient=Patient/${pb}`, obsB);
      await check('/fhir/Observation/_search', obsB, [], `patient=Patient/${pb}`);
      await check(`/fhir/DocumentReference?patient=${pb}`, oracle.visible(role, ofB('DocumentReference')));
      await check(`/fhir/Patient?family=${p.family}`, oracle.visible(role, ofPerson('Patient')));
      const incl = obsB.length ? oracle.visible(role, (r) => (r.resource_type === 'Patient' && r.id === pb) || ofB('Encounter')(r)) : [];
      await check(`/fhir/Observation?patient=${pb}&_include=Observation:patient&_include=Observation:encounter`, obsB, incl);
      const patientVisible = oracle.visible(role, (r) => r.resource_type === 'Patient' && r.id === pb);
      await check(`/fhir/Patient?_id=${pb}&_revinclude=Condition:patient`, patientVisible, patientVisible.length ? oracle.visible(role, ofB('Condition')) : []);
      await check(`/fhir/Observation?patient.family=${p.family}`, oracle.visible(role, ofPerson('Observation')));
      // _has must not reveal the existence of an Observation the caller may not see.
      const withVisibleObs = oracle.visible(role, ofPerson('Patient')).filter((key) =>
        oracle.visible(role, (r) => r.resource_type === 'Observation' && p.resources.some((x) => x.id === r.id && `Patient/${p.patients[x.org]}` === key)).length > 0);
      await check(`/fhir/Patient?family=${p.family}&_has:Observation:patient:code=2345-7`, withVisibleObs);
    });

    it.each(STATES)('$everything, $match, $ihe-pix, batch reads, $consent-status and $access-report for a person in state %s', async (state) => {
      const p = person(state);
      const pb = p.patients.B!;
      const everything = await http.get(`/fhir/Patient/${pb}/$everything`, tokenOf(role));
      const clinicalRole = ['clinician', 'clinical-staff', 'patient', 'system-a', 'system-b', 'system-a-query'].includes(role);
      const related = state === 'encounter' || state === 'attestation';
      const mayEverything = clinicalRole && oracle.viewOf(role, 'Patient', pb) !== 'hidden' && (related || !role.startsWith('clinic'));
      if (mayEverything) {
        expect(everything.status, `${role} $everything (${state})`).toBe(200);
        const b = everything.json<Bundle>();
        const expected = oracle.visible(role, (r) => r.person_id === p.personId);
        expect(keysOf(byId(b))).toEqual(expected);
        expect(b.total).toBe(expected.length);
      } else {
        expect(everything.status, `${role} $everything (${state})`).toBe(403);
        if (role.startsWith('clinic')) expect(outcomeCode(everything.json())).toBe('no-care-relationship');
      }

      const sample = (await http.get(`/fhir/Patient/${pb}`, f.tokens['system-b'])).json<Resource & { name: []; birthDate: string; gender: string; telecom: [] }>();
      const match = await http.post('/fhir/Patient/$match', tokenOf(role), {
        resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', name: sample.name, birthDate: sample.birthDate, gender: sample.gender, telecom: sample.telecom } }],
      });
      expect(match.status).toBe(200);
      const matched = match.json<Bundle>();
      expect(keysOf(byId(matched)), `${role} $match (${state})`).toEqual(oracle.visible(role, (r) => r.resource_type === 'Patient' && r.person_id === p.personId));
      for (const e of matched.entry ?? []) expectShape(e.resource!, oracle.viewOf(role, 'Patient', e.resource!.id!));

      const pix = await http.get(`/fhir/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`urn:katahdin:mrn:B|B-${p.family}`)}`, tokenOf(role));
      const pbView = oracle.viewOf(role, 'Patient', pb);
      expect(pix.status, `${role} $ihe-pix (${state})`).toBe(pbView === 'hidden' ? 404 : 200);
      if (pix.status === 200) {
        const params = pix.json<Parameters>().parameter ?? [];
        const members = oracle.visible(role, (r) => r.resource_type === 'Patient' && r.person_id === p.personId);
        expect(params.filter((x) => x.name === 'targetId').map((x) => x.valueReference?.reference).sort()).toEqual(members);
        const idents = params.filter((x) => x.name === 'targetIdentifier').map((x) => x.valueIdentifier?.value);
        const fullMembers = members.filter((k) => oracle.viewOf(role, 'Patient', k.slice(8)) === 'full');
        expect(idents.length, `${role} $ihe-pix identifiers (${state})`).toBe(fullMembers.length);
        expect(idents.join()).not.toContain('9876');
      }

      const obs = p.resources.find((r) => r.type === 'Observation' && r.org === 'B')!;
      const batch = await http.post('/fhir', tokenOf(role), { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Observation/${obs.id}` } }] });
      expect(batch.status).toBe(200);
      const entry = batch.json<Bundle>().entry![0] as BundleEntry;
      const obsVisible = oracle.viewOf(role, 'Observation', obs.id) !== 'hidden';
      expect(entry.response?.status.startsWith(obsVisible ? '200' : '403'), `${role} batch GET (${state}): ${entry.response?.status}`).toBe(true);
      expect(entry.resource?.id).toBe(obsVisible ? obs.id : undefined);

      const consent = await http.get(`/fhir/Patient/${pb}/$consent-status`, tokenOf(role));
      const self = role === 'patient' && state === 'encounter';
      const consentOk = self || role === 'registrar' || role === 'privacy-officer' || (role.startsWith('clinic') && related);
      expect(consent.status, `${role} $consent-status (${state})`).toBe(consentOk ? 200 : 403);

      const report = await http.get(`/fhir/Patient/${pb}/$access-report`, tokenOf(role));
      expect(report.status, `${role} $access-report (${state})`).toBe(self || role === 'privacy-officer' ? 200 : 403);
    });

    it('type and system history, type-wide searches and totals never show or count hidden items', async () => {
      for (const type of ['Observation', 'Condition', 'Binary', 'DocumentReference']) {
        const res = await http.get(`/fhir/${type}/_history?_count=1000`, tokenOf(role));
        const search0 = await http.get(`/fhir/${type}?_count=1000`, tokenOf(role));
        if (!typeAllowed(role, type)) {
          expect([res.status, search0.status], `${role} ${type} history and search`).toEqual([403, 403]);
          continue;
        }
        const b = res.json<Bundle>();
        expect(keysOf(byId(b)), `${role} ${type}/_history`).toEqual(oracle.visible(role, (r) => r.resource_type === type));
        expect(b.total).toBe((b.entry ?? []).length);
        const search = search0.json<Bundle>();
        expect(keysOf(byId(search)), `${role} ${type} search`).toEqual(oracle.visible(role, (r) => r.resource_type === type));
        expect(search.total).toBe(search.entry?.length ?? 0);
        const count = (await http.get(`/fhir/${type}?_summary=count`, tokenOf(role))).json<Bundle>();
        expect(count.total, `${role} ${type} _summary=count`).toBe(search.total);
      }
      const all = (await http.get('/fhir/_history?_count=1000', tokenOf(role))).json<Bundle>();
      expect([...new Set(keysOf(byId(all)))], `${role} /fhir/_history`).toEqual(oracle.visible(role, () => true));
      expect(all.entry?.some((e) => e.resource?.resourceType === 'Subscription'), `${role} sees the Subscription`).toBe(role === 'system-a' || role === 'system-a-query');
      const subscriptions = await http.get('/fhir/Subscription', tokenOf(role));
      if (subscriptions.status === 200) expect(subscriptions.body.includes('a-secret'), `${role} Subscription search`).toBe(role === 'system-a' || role === 'system-a-query');
      expect(all.total).toBe(all.entry?.length);
      for (const e of all.entry ?? []) expectShape(e.resource!, oracle.viewOf(role, e.resource!.resourceType, e.resource!.id!));
      const hiv = (await http.get('/fhir/Patient?_has:Condition:patient:code=B20', tokenOf(role))).json<Bundle>();
      const hivCondition = f.persons.encounter.resources.find((r) => r.sensitive)!;
      const expected = oracle.viewOf(role, 'Condition', hivCondition.id) === 'hidden' ? [] : oracle.visible(role, (r) => r.resource_type === 'Patient' && r.id === f.persons.encounter.patients.B);
      expect(keysOf(byId(hiv)), `${role} _has on a sensitive code`).toEqual(expected);
      expect(hiv.total).toBe(expected.length);
    });

    it('audit log, ingestion monitor, MPI queue, user/client lists, review queues and portal answer only their roles', async () => {
      const seq = (await server.services.db.query<{ s: string }>('select max(seq) as s from audit_log')).rows[0].s;
      const allowed: Array<[string, FixtureRole[]]> = [
        ['/fhir/AuditEvent?_count=5', ['privacy-officer']],
        [`/fhir/AuditEvent/${seq}`, ['privacy-officer']],
        ['/admin/ingest/stats', ['admin']],
        ['/admin/ingest/errors', ['admin']],
        [`/admin/ingest/errors/${errorId}`, ['admin']],
        ['/admin/mpi/tasks', ['admin', 'registrar']],
        [`/admin/mpi/links/${f.persons.encounter.patients.B}`, ['admin', 'registrar']],
        ['/admin/users', ['admin']],
        ['/admin/clients', ['admin']],
        ['/admin/break-glass', ['privacy-officer']],
        ['/admin/attestations', ['privacy-officer']],
        ['/admin/unusual-access', ['privacy-officer']],
        ['/admin/audit-requests', ['privacy-officer', 'registrar']],
        ['/portal/me', ['patient']],
        ['/portal/audit-requests', ['patient']],
      ];
      for (const [url, roles] of allowed) {
        const res = await http.get(url, tokenOf(role));
        expect(res.status, `${role} GET ${url}`).toBe(roles.includes(role) ? 200 : 403);
        if (res.status === 403) expect(res.body).not.toContain(f.persons.encounter.family);
      }
      const posted = await http.post('/fhir/AuditEvent/_search', tokenOf(role), '_count=5');
      expect(posted.status, `${role} POST /fhir/AuditEvent/_search`).toBe(role === 'privacy-officer' ? 200 : 403);
      if (posted.status === 403) expect(posted.body).not.toContain(f.persons.encounter.family);
    });

    it('write paths refuse other organizations\' data without echoing it', async () => {
      // Every caller targets an Observation it has no business changing: another organization's, of a person outside its care.
      const target = role === 'system-b' ? f.persons.encounter : f.persons.none;
      const obs = target.resources.find((r) => r.type === 'Observation' && r.org === (role === 'system-b' ? 'A' : 'B'))!;
      const put = await http.call('PUT', `/fhir/Observation/${obs.id}`, tokenOf(role), { resourceType: 'Observation', id: obs.id, status: 'final', code: { text: 'x' } });
      const del = await http.call('DELETE', `/fhir/Observation/${obs.id}`, tokenOf(role));
      expect(put.status, `${role} PUT another organization's Observation`).toBe(403);
      expect(del.status, `${role} DELETE another organization's Observation`).toBe(403);
      expect(put.body + del.body).not.toContain('2345-7');
    });
  });

  it('bulk export: only administrators, patients and systems enabled for it start one, and its files hold exactly what the role may see whole', async () => {
    // A Group of every scenario person's record at B, and organization A's query system enabled for export.
    const group = await server.services.gate.run(systemContext('leak'), { action: 'create' }, (scope) => server.services.records.create(scope, {
      resourceType: 'Group', type: 'person', actual: true, member: Object.values(f.persons).map((p) => ({ entity: { reference: `Patient/${p.patients.B}` } })),
    } as Resource));
    const exporter = await systemClientToken(server, 'ehr-a-export', f.orgA, ['system/*.cruds', QUERY_ROLE_SCOPE, BULK_EXPORT_SCOPE]);
    const rows = (await server.services.db.query<DbRow>('select resource_type, id, person_id, source_org, security from resources where deleted = false')).rows;
    const now = new LeakOracle(f, rows);
    const groupPersons = Object.values(f.persons).map((p) => p.personId);
    const levels = [
      { url: '/fhir/$export', rows: (_: DbRow) => true },
      { url: '/fhir/Patient/$export', rows: (r: DbRow) => r.person_id !== null },
      { url: `/fhir/Group/${group.resource.id}/$export`, rows: (r: DbRow) => r.person_id !== null && groupPersons.includes(r.person_id) },
    ];
    // An export hands over whole resources only: the demographics a search shows to pick a person are not exported.
    const whole = (role: FixtureRole, where: (r: DbRow) => boolean) =>
      rows.filter((r) => where(r) && typeAllowed(role, r.resource_type) && now.view(role, r) === 'full').map((r) => `${r.resource_type}/${r.id}`).sort();
    for (const role of ROLES) {
      for (const level of levels) {
        if (role !== 'admin' && role !== 'patient') {
          const refused = await kickOff(http, level.url, tokenOf(role));
          expect(refused.status, `${role} ${level.url}`).toBe(403);
          expect(refused.body).not.toContain(f.persons.encounter.family);
          continue;
        }
        // The administrator's scopes do not reach Group resources: refused before any job exists. (The patient sees
        // the Group, which is in their compartment as its first member, and gets only their own record from it.)
        if (role === 'admin' && level.url.includes('/Group/')) {
          expect((await kickOff(http, level.url, tokenOf(role))).status, `${role} ${level.url}`).toBe(403);
          continue;
        }
        expect(keysOf(await exportAll(http, level.url, tokenOf(role))), `${role} ${level.url}`).toEqual(whole(role, level.rows));
      }
    }
    for (const level of levels) {
      const got = keysOf(await exportAll(http, level.url, exporter));
      expect(got, `export-enabled query system ${level.url}`).toEqual(whole('system-a-query', level.rows));
      for (const p of [f.persons.none, f.persons.attestation]) {
        expect(got.filter((k) => p.resources.some((r) => r.org === 'B' && k === `${r.type}/${r.id}`)), `nothing of B's record of ${p.state}`).toEqual([]);
      }
    }
    const posted = await kickOff(http, '/fhir/$export', exporter, {}, { resourceType: 'Parameters', parameter: [{ name: '_type', valueString: 'Patient' }] });
    expect(posted.status).toBe(202);
    for (const url of ['/fhir/Patient/$export', `/fhir/Group/${group.resource.id}/$export`]) {
      expect((await kickOff(http, url, f.tokens.clinician, {}, { resourceType: 'Parameters', parameter: [] })).status).toBe(403);
    }
  });

  it('covers every protected route that can return record data (a new read path must be added here)', () => {
    const protectedRoutes = registeredRoutes.filter((r) => r.protected).map(routeKey);
    expect(protectedRoutes.length).toBeGreaterThan(20);
    const unlisted = protectedRoutes.filter((k) => !COVERED_ROUTES.includes(k) && !(k in NO_RECORD_DATA));
    expect(unlisted, 'protected routes neither covered by the leak table nor justified as returning no record data').toEqual([]);
    const notExercised = COVERED_ROUTES.filter((k) => !http.reached.has(k));
    expect(notExercised, 'routes listed as covered that no test called').toEqual([]);
    const stale = [...COVERED_ROUTES, ...Object.keys(NO_RECORD_DATA)].filter((k) => !protectedRoutes.includes(k));
    expect(stale, 'listed routes that are no longer registered').toEqual([]);
  });
});
