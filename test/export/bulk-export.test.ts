import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { systemContext, type AccessContext } from '../../src/access/context.ts';
import { BULK_EXPORT_SCOPE, QUERY_ROLE_SCOPE } from '../../src/access/scopes.ts';
import { registeredRoutes } from '../../src/http/routes/index.ts';
import { buildCareFixture, GLUCOSE, HIV_CODE, type CareFixture } from '../support/care-fixture.ts';
import { databaseKinds } from '../support/databases.ts';
import { keysOf, LeakOracle, type DbRow } from '../support/leak-oracle.ts';
import { downloadAll, exportAll, kickOff, localPath, manifestOf, type Manifest } from '../support/bulk-export.ts';
import { RouteCaller, type CallResult } from '../support/route-calls.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

describe.each(kinds)('FHIR Bulk Data export on %s', (kind) => {
  let server: TestServer;
  let f: CareFixture;
  let http: RouteCaller;
  let exporter: string;
  let oracle: LeakOracle;

  beforeAll(async () => {
    // Three resources a file, so every type with more spans several files.
    server = await startTestServer(kind, { exportFileResources: 3 });
    http = new RouteCaller(server, () => registeredRoutes);
    f = await buildCareFixture(server);
    exporter = await systemClientToken(server, 'ehr-a-export', f.orgA, ['system/*.cruds', QUERY_ROLE_SCOPE, BULK_EXPORT_SCOPE]);
    const rows = await server.services.db.query<DbRow>('select resource_type, id, person_id, source_org, security from resources where deleted = false');
    oracle = new LeakOracle(f, rows.rows);
  }, 600_000);
  afterAll(async () => server?.stop());

  const start = (url: string, token: string, headers: Record<string, string> = {}) => kickOff(http, url, token, headers);
  const manifest = (res: CallResult, token: string) => manifestOf(http, res, token);
  const download = (m: Manifest, token: string) => downloadAll(http, m, token, 3);
  const exportRows = (url: string, token: string) => exportAll(http, url, token, 3);

  it('a query system enabled for export gets its own data and the records of persons in its care, never other persons\' demographics or unshared sensitive data', async () => {
    const m = await manifest(await start('/fhir/Patient/$export', exporter), exporter);
    expect(m.requiresAccessToken).toBe(true);
    expect(m.request).toContain('/fhir/Patient/$export');
    const got = keysOf(await download(m, exporter));
    // Patient level: what the query role sees in full, of rows that belong to a person.
    const expected = oracle.rows.filter((r) => r.person_id !== null && oracle.view('system-a-query', r) === 'full').map((r) => `${r.resource_type}/${r.id}`).sort();
    expect(got).toEqual(expected);
    expect(got.length).toBeGreaterThan(20);
    const none = f.persons.none;
    expect(got.filter((k) => none.resources.some((r) => k === `${r.type}/${r.id}`)), 'nothing of a person outside the care').toEqual([]);
    const hiv = f.persons.encounter.resources.find((r) => r.sensitive)!;
    expect(got).not.toContain(`${hiv.type}/${hiv.id}`);
  });

  it('an administrator exports identifiers and the directory for operations, no clinical data; audited with purpose HOPERAT', async () => {
    const before = Number((await server.services.db.query<{ s: number }>('select coalesce(max(seq), 0) as s from audit_log')).rows[0].s);
    const got = await exportRows('/fhir/$export', f.tokens.admin);
    const expected = oracle.rows.filter((r) => oracle.view('admin', r) === 'full' && ['Organization', 'Practitioner', 'PractitionerRole', 'Endpoint', 'Patient', 'Person'].includes(r.resource_type))
      .map((r) => `${r.resource_type}/${r.id}`).sort();
    expect(keysOf(got)).toEqual(expected);
    expect(got.some((r) => r.resourceType === 'Patient')).toBe(true);
    expect(got.every((r) => ['Organization', 'Patient', 'Person', 'Practitioner', 'PractitionerRole', 'Endpoint'].includes(r.resourceType))).toBe(true);
    expect(JSON.stringify(got)).not.toContain(f.ssnDigits);
    const audit = (await server.services.db.query<{ action: string; purpose: string; agent_role: string; person_ids: string[] }>(
      'select action, purpose, agent_role, person_ids from audit_log where seq > $1 order by seq', [before])).rows;
    const exports = audit.filter((a) => a.action === 'export');
    expect(exports.length).toBeGreaterThan(2);
    expect(exports.every((a) => a.purpose === 'HOPERAT' && a.agent_role === 'admin')).toBe(true);
    const persons = new Set(exports.flatMap((a) => a.person_ids));
    for (const p of Object.values(f.persons)) expect(persons.has(p.personId), 'every exported person is named in the audit').toBe(true);
  });

  it('a patient exports their own record only', async () => {
    const got = keysOf(await exportRows('/fhir/Patient/$export', f.tokens.patient));
    const own = oracle.rows.filter((r) => r.person_id !== null && oracle.view('patient', r) === 'full').map((r) => `${r.resource_type}/${r.id}`).sort();
    expect(own.length).toBeGreaterThan(10);
    expect(got).toEqual(own);
  });

  it('_typeFilter narrows a type to the resources meeting any of its criteria, exports other types whole, and never widens', async () => {
    const full = (r: DbRow) => r.person_id !== null && oracle.view('system-a-query', r) === 'full';
    const key = (r: DbRow) => `${r.resource_type}/${r.id}`;
    const observations = await server.services.db.query<{ id: string; content: { subject?: { reference?: string } } }>(
      "select id, content from resources where resource_type = 'Observation' and deleted = false");
    const patient = `Patient/${f.persons.encounter.patients.A}`;
    // Worked out from the stored JSON, not by the search engine.
    const ofPatient = new Set(observations.rows.filter((r) => r.content.subject?.reference === patient).map((r) => r.id));
    const typeFilter = (criteria: string) => `_typeFilter=${encodeURIComponent(criteria)}`;

    const got = keysOf(await exportRows(`/fhir/Patient/$export?_type=Observation,Condition&${typeFilter(`Observation?subject=${patient}`)}`, exporter));
    const expected = oracle.rows.filter((r) => full(r) && (r.resource_type === 'Condition' || (r.resource_type === 'Observation' && ofPatient.has(r.id)))).map(key).sort();
    expect(got).toEqual(expected);
    const visibleObservations = oracle.rows.filter((r) => full(r) && r.resource_type === 'Observation');
    expect(got.filter((k) => k.startsWith('Observation/')).length, 'the filter left some out').toBeLessThan(visibleObservations.length);
    expect(got.some((k) => k.startsWith('Condition/')) && got.some((k) => k.startsWith('Observation/'))).toBe(true);

    // Two criteria for one type select either; criteria naming a resource the caller may not see do not reveal it.
    const visible = oracle.rows.filter((r) => full(r) && r.resource_type === 'Condition');
    const hiv = f.persons.encounter.resources.find((r) => r.sensitive)!;
    const chosen = [visible[0].id, visible[visible.length - 1].id, hiv.id];
    const either = keysOf(await exportRows(`/fhir/Patient/$export?_type=Condition&${chosen.map((id) => typeFilter(`Condition?_id=${id}`)).join('&')}`, exporter));
    expect(either).toEqual([...new Set(chosen.slice(0, 2))].map((id) => `Condition/${id}`).sort());

    for (const criteria of ['Condition?nonsense=1', 'Condition?onset-date=notadate', 'Condition?_count=2', 'Observation?code=1']) {
      const res = await start(`/fhir/Patient/$export?_type=Condition&${typeFilter(criteria)}`, exporter);
      expect(res.status, `${criteria}: ${res.body}`).toBe(400);
      expect(res.json<OperationOutcome>().issue?.[0].diagnostics).toBeTruthy();
    }
  });

  it('_elements keeps the root elements named for every type or for a type, and marks what it cut SUBSETTED', async () => {
    const got = await exportRows('/fhir/Patient/$export?_type=Observation,Condition&_elements=subject,Observation.code', exporter);
    const whole = await exportRows('/fhir/Patient/$export?_type=Observation,Condition', exporter);
    expect(keysOf(got)).toEqual(keysOf(whole));
    for (const r of got) {
      const allowed = ['resourceType', 'id', 'meta', 'subject', ...(r.resourceType === 'Observation' ? ['code'] : [])];
      expect(Object.keys(r).filter((k) => !allowed.includes(k)), `${r.resourceType}/${r.id}`).toEqual([]);
      expect(r.meta?.tag?.some((t) => t.code === 'SUBSETTED')).toBe(true);
    }
    expect(got.some((r) => r.resourceType === 'Observation' && 'code' in r && 'subject' in r)).toBe(true);
    expect(whole.some((r) => r.resourceType === 'Observation' && 'status' in r)).toBe(true);
  });

  it('patient narrows a Patient-level export to the persons of the Patients named, each of which must be visible', async () => {
    const person = f.persons.encounter;
    const expected = oracle.rows.filter((r) => r.person_id === person.personId && oracle.view('system-a-query', r) === 'full').map((r) => `${r.resource_type}/${r.id}`).sort();
    expect(expected.length).toBeGreaterThan(5);
    const body = { resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: `Patient/${person.patients.A!}` } }] };
    const posted = keysOf(await downloadAll(http, await manifest(await kickOff(http, '/fhir/Patient/$export', exporter, {}, body), exporter), exporter, 3));
    expect(posted).toEqual(expected);
    // The same person's other source record names the same person; a query string works as well as a POST.
    expect(keysOf(await exportRows(`/fhir/Patient/$export?patient=Patient/${person.patients.B}`, exporter))).toEqual(expected);
    // A person outside the system's care: the Patient may be found, but nothing of theirs is exported.
    const none = f.persons.none;
    expect(await exportRows(`/fhir/Patient/$export?_type=Observation,Condition&patient=Patient/${none.patients.B!}`, exporter)).toEqual([]);
    expect((await start('/fhir/Patient/$export?patient=Patient/no-such-patient', exporter)).status).toBe(404);
    expect((await start(`/fhir/$export?patient=Patient/${person.patients.A}`, exporter)).status).toBe(400);
    expect((await start('/fhir/Patient/$export?patient=Observation/1', exporter)).status).toBe(400);
  });

  it('an incremental export lists the deletions since _since that the caller could see, as transaction Bundles of DELETEs', async () => {
    const person = f.persons.encounter;
    // Sent by organization B: the exporter (A's query system) sees them only as a treating organization would.
    const ehr = f.tokens['system-b'];
    const subject = { reference: `Patient/${person.patients.B!}` };
    const since = new Date(Date.now() - 1000).toISOString();
    const created: Record<string, string> = {};
    for (const [name, body] of Object.entries({
      glucose: { resourceType: 'Observation', status: 'final', subject, code: { coding: [GLUCOSE] }, effectiveDateTime: new Date().toISOString(), valueQuantity: { value: 7.2, unit: 'mmol/L' } },
      hiv: { resourceType: 'Condition', subject, code: { coding: [HIV_CODE] } },
    })) {
      const res = await http.post(`/fhir/${body.resourceType}`, ehr, body);
      expect(res.status, res.body).toBe(201);
      created[name] = `${body.resourceType}/${res.json<Resource>().id!}`;
      expect((await http.call('DELETE', `/fhir/${created[name]}`, ehr, undefined)).status).toBeLessThan(300);
    }
    const m = await manifest(await start(`/fhir/Patient/$export?_type=Observation,Condition&_since=${encodeURIComponent(since)}`, exporter), exporter);
    expect(m.deleted.map((d) => d.type)).toEqual(['Bundle']);
    const lines = (await http.get(localPath(m.deleted[0].url), exporter)).body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Bundle);
    expect(lines.every((b) => b.resourceType === 'Bundle' && b.type === 'transaction')).toBe(true);
    const urls = lines.flatMap((b) => (b.entry ?? []).map((e) => `${e.request?.method} ${e.request?.url}`));
    // The HIV diagnosis was withheld from this system (the person shares no HIV data): so is its deletion.
    expect(urls).toEqual([`DELETE ${created.glucose}`]);
    expect(keysOf(await download(m, exporter))).not.toContain(created.glucose);
    // The patient, whose own records they were, is told of both; a full export has no deletions to list.
    const own = await manifest(await start(`/fhir/Patient/$export?_type=Observation,Condition&_since=${encodeURIComponent(since)}`, f.tokens.patient), f.tokens.patient);
    const ownUrls = (await http.get(localPath(own.deleted[0].url), f.tokens.patient)).body.split('\n').filter(Boolean)
      .flatMap((l) => ((JSON.parse(l) as Bundle).entry ?? []).map((e) => e.request?.url));
    expect(ownUrls.sort()).toEqual([created.glucose, created.hiv].sort());
    expect((await manifest(await start('/fhir/Patient/$export?_type=Organization', exporter), exporter)).deleted).toEqual([]);
  });

  it('refuses clinicians, registrars, privacy officers and systems no administrator enabled, and audits the refusal', async () => {
    for (const role of ['clinician', 'clinical-staff', 'registrar', 'privacy-officer', 'system-a', 'system-a-query'] as const) {
      const before = Number((await server.services.db.query<{ s: number }>('select coalesce(max(seq), 0) as s from audit_log')).rows[0].s);
      const res = await start('/fhir/Patient/$export', f.tokens[role]);
      expect(res.status, `${role}: ${res.body}`).toBe(403);
      expect(res.json<OperationOutcome>().resourceType).toBe('OperationOutcome');
      if (role.startsWith('system')) expect(res.body).toContain(BULK_EXPORT_SCOPE);
      const denied = await server.services.db.query('select 1 from audit_log where seq > $1 and outcome = $2', [before, 'denied']);
      expect(denied.rows.length, `${role} refusal audited`).toBe(1);
    }
  });

  it('answers bad kick-offs with a reasoned 400, and types outside the scopes with 403', async () => {
    const bad = [
      '/fhir/$export?_typeFilter=Observation%3Fnonsense%3D1', '/fhir/$export?_outputFormat=text/csv', '/fhir/$export?_since=yesterday',
      '/fhir/$export?_type=Foo', '/fhir/$export?_type=AuditEvent', '/fhir/$export?_elements=Observation.code.coding', '/fhir/$export?_type=',
    ];
    for (const url of bad) {
      const before = Number((await server.services.db.query<{ s: number }>('select coalesce(max(seq), 0) as s from audit_log')).rows[0].s);
      const res = await start(url, exporter);
      expect(res.status, url).toBe(400);
      expect(res.json<OperationOutcome>().issue?.[0].diagnostics).toBeTruthy();
      const audited = await server.services.db.query<{ outcome: string }>('select outcome from audit_log where seq > $1 and action = $2', [before, 'export']);
      expect(audited.rows.map((r) => r.outcome), `${url} refused and audited`).toEqual(['error']);
    }
    expect((await start('/fhir/$export?_type=Observation', f.tokens.admin)).status).toBe(403);
    expect((await start('/fhir/$export?_foo=1', exporter, { prefer: 'respond-async, handling=strict' })).status).toBe(400);
    const lenient = await manifest(await start('/fhir/$export?_type=Organization&_foo=1', exporter), exporter);
    expect(lenient.error).toHaveLength(1);
    const warning = await http.get(localPath(lenient.error[0].url), exporter);
    expect(JSON.parse(warning.body.trim()).issue[0].diagnostics).toContain('_foo');
    expect(lenient.output.every((o) => o.type === 'Organization')).toBe(true);
  });

  it('a job is visible only to its requester; cancelling ends it', async () => {
    const res = await start('/fhir/$export?_type=Organization', exporter);
    const status = localPath(String(res.headers['content-location']));
    const m = await manifest(res, exporter);
    expect((await http.get(status, f.tokens.admin)).status).toBe(404);
    expect((await http.get(localPath(m.output[0].url), f.tokens.admin)).status).toBe(404);
    expect((await http.call('DELETE', status, f.tokens.admin, undefined)).status).toBe(404);
    expect((await http.call('DELETE', status, exporter, undefined)).status).toBe(202);
    expect((await http.get(status, exporter)).status).toBe(404);
    expect((await http.get(localPath(m.output[0].url), exporter)).status).toBe(404);
    expect((await http.get('/fhir/$export-status/no-such-job', exporter)).status).toBe(404);
  });

  it('a sensitive resource is exported only once the person shares its category, and the share is read at download time', async () => {
    const person = f.persons.encounter;
    const hiv = person.resources.find((r) => r.sensitive)!;
    const m = await manifest(await start('/fhir/Patient/$export?_type=Condition', exporter), exporter);
    expect(keysOf(await download(m, exporter))).not.toContain(`${hiv.type}/${hiv.id}`);
    const share = await http.post(`/fhir/Patient/${person.patients.B}/$consent`, f.tokens.registrar, {
      resourceType: 'Parameters', parameter: [{ name: 'action', valueCode: 'share' }, { name: 'category', valueCode: 'HIV' }, { name: 'channel', valueCode: 'paper' }],
    });
    expect(share.status, share.body).toBe(200);
    // The file bounds were set while it was withheld: the file that now holds it may exceed the planned size.
    expect(keysOf(await downloadAll(http, m, exporter))).toContain(`${hiv.type}/${hiv.id}`);
    expect(keysOf(await exportRows('/fhir/Patient/$export?_type=Condition', exporter))).toContain(`${hiv.type}/${hiv.id}`);
    // Withdrawn again: the files of the same export no longer hold it.
    const withhold = await http.post(`/fhir/Patient/${person.patients.B}/$consent`, f.tokens.registrar, {
      resourceType: 'Parameters', parameter: [{ name: 'action', valueCode: 'withhold' }, { name: 'category', valueCode: 'HIV' }, { name: 'channel', valueCode: 'paper' }],
    });
    expect(withhold.status, withhold.body).toBe(200);
    expect(keysOf(await download(m, exporter))).not.toContain(`${hiv.type}/${hiv.id}`);
  });

  it('files hold what existed at transactionTime, read at download time: later creations wait for _since, an opt-out removes data at once', async () => {
    const person = f.persons.encounter;
    const m = await manifest(await start('/fhir/Patient/$export?_type=Observation,Condition', exporter), exporter);
    const internalA: AccessContext = { ...systemContext('test'), organizationId: f.orgA };
    const later = await server.services.gate.run(internalA, { action: 'create' }, (scope) => server.services.records.create(scope, {
      resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${person.patients.A}` }, code: { coding: [GLUCOSE] },
      effectiveDateTime: new Date().toISOString(), valueQuantity: { value: 6.1, unit: 'mmol/L' },
    } as Resource));
    const first = keysOf(await download(m, exporter));
    expect(first).not.toContain(`Observation/${later.resource.id}`);
    expect(first.some((k) => person.resources.some((r) => k === `${r.type}/${r.id}`))).toBe(true);

    const next = keysOf(await exportRows(`/fhir/Patient/$export?_type=Observation,Condition&_since=${encodeURIComponent(m.transactionTime)}`, exporter));
    expect(next).toEqual([`Observation/${later.resource.id}`]);

    // The same files after the person opts out: nothing of theirs is left to hand over.
    const optOut = await http.post(`/fhir/Patient/${person.patients.B}/$consent`, f.tokens.registrar, {
      resourceType: 'Parameters', parameter: [{ name: 'action', valueCode: 'opt-out' }, { name: 'channel', valueCode: 'paper' }],
    });
    expect(optOut.status, optOut.body).toBe(200);
    const after = keysOf(await download(m, exporter));
    expect(after.filter((k) => person.resources.some((r) => k === `${r.type}/${r.id}`))).toEqual([]);
    expect(after.length).toBeGreaterThan(0);
  });

  it('Group level exports the compartments of the group\'s members only', async () => {
    const members = [f.persons.expired];
    const internalA: AccessContext = { ...systemContext('test'), organizationId: f.orgA };
    const group = await server.services.gate.run(internalA, { action: 'create' }, (scope) => server.services.records.create(scope, {
      resourceType: 'Group', type: 'person', actual: true, member: members.map((p) => ({ entity: { reference: `Patient/${p.patients.A}` } })),
    } as Resource));
    const got = keysOf(await exportRows(`/fhir/Group/${group.resource.id}/$export`, exporter));
    // The Group names one member, so it is in that person's compartment too.
    const rows = await server.services.db.query<DbRow>('select resource_type, id, person_id, source_org, security from resources where deleted = false and person_id = $1', [f.persons.expired.personId]);
    const local = new LeakOracle(f, rows.rows);
    const expected = rows.rows.filter((r) => local.view('system-a-query', r) === 'full').map((r) => `${r.resource_type}/${r.id}`).sort();
    expect(expected).toContain(`Group/${group.resource.id}`);
    expect(got).toEqual(expected);
    expect(got.length).toBeGreaterThan(0);
    expect((await start('/fhir/Group/no-such-group/$export', exporter)).status).toBe(404);
  });
});
