/**
 * privacy-rules §2 and §3 end to end: opt-out purge (all or nothing, verified by schema introspection and by the
 * `privacy verify-purge` command), data arriving afterwards over MLLP, C-CDA and FHIR, break-the-glass after opt-out,
 * then opt back in with a date (later visits kept, a late result from before the date discarded).
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Patient } from '@medplum/fhirtypes';
import { verifyPurgeCommand } from '../../src/privacy-ops/operator-commands.ts';
import { verifyPurge } from '../../src/privacy-ops/verify-purge.ts';
import { databaseKinds } from '../support/databases.ts';
import { runCli, startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { adt, asBundle, asParams, ccdSample, consent, count, EVE, facilityOrganization, fhir, oru, patientOf, sendHl7, type PersonDemo } from './support.ts';

const kinds = await databaseKinds();
const DAY = 86_400_000;
const CCD = ccdSample('the C-CDA part of the opt-out scenario');
const ADAM: PersonDemo = { family: 'QUINCY', given: 'ADAM', dob: '19600202', sex: 'M', ssn: '123-45-0000', street: '9 Oak Rd', city: 'Augusta', state: 'ME', zip: '04330' };
const MRNS = ['MA-7', 'MB-7', 'MC-7'];

describe.each(kinds)('opt-out, purge and opt back in on %s', (kind) => {
  let server: TestServer;
  let personId = '';
  const pids: string[] = [];
  let feedA = '';
  let registrar = '';
  let doctor = '';
  /** Every clinical resource key of the person before the purge. */
  let doomed: Array<{ resource_type: string; id: string }> = [];

  const personCount = (type: string) => count(server, 'select count(*)::int as n from resources where person_id = $1 and resource_type = $2', [personId, type]);
  /** Raw message bodies kept in the inbox, opened with the data key: they are sealed at rest, so SQL `like` never matches. */
  async function bodiesContaining(...needles: string[]): Promise<number> {
    const rows = (await server.services.db.query<{ raw: string; raw_sealed: boolean }>('select raw, raw_sealed from ingest_messages where raw is not null')).rows;
    const bodies = rows.map((r) => (r.raw_sealed ? server.services.auth.fieldCrypto.decrypt(r.raw) : r.raw));
    return bodies.filter((b) => needles.some((n) => b.includes(n))).length;
  }
  const personBodies = () => count(server, 'select count(*)::int as n from ingest_messages where $1 = any(person_ids) and raw is not null', [personId]);
  /** Rows in every table that has (resource_type, id) columns, for the given keys (found by introspection). */
  async function rowsForKeys(keys: Array<{ resource_type: string; id: string }>): Promise<Record<string, number>> {
    const tables = await server.services.db.query<{ table_name: string }>(`select table_name from information_schema.columns where table_schema = current_schema()
      and column_name in ('resource_type', 'id') group by table_name having count(*) = 2`);
    const out: Record<string, number> = {};
    for (const { table_name } of tables.rows) {
      out[table_name] = await count(server, `select count(*)::int as n from ${table_name} where (resource_type, id) in (select * from unnest($1::text[], $2::text[]))`,
        [keys.map((k) => k.resource_type), keys.map((k) => k.id)]);
    }
    return out;
  }
  async function snapshot() {
    return {
      resources: await count(server, 'select count(*)::int as n from resources where person_id = $1', [personId]),
      history: await count(server, 'select count(*)::int as n from resource_history where person_id = $1', [personId]),
      keyed: await rowsForKeys(doomed),
      raw: await count(server, 'select count(*)::int as n from ingest_messages where $1 = any(person_ids) and raw is not null', [personId]),
      care: await count(server, 'select count(*)::int as n from care_relationships where patient_id = any($1::text[])', [pids]),
      optedOut: await count(server, 'select count(*)::int as n from person_privacy where person_id = $1 and opted_out', [personId]),
    };
  }

  beforeAll(async () => {
    server = await startTestServer(kind);
    const orgA = await facilityOrganization(server, 'HA');
    const orgC = await facilityOrganization(server, 'HC');
    feedA = await systemClientToken(server, 'ehr-a', orgA);
    const now = Date.now();
    expect(await sendHl7(server, adt(EVE, 'HA', MRNS[0], { visit: 'VA-1', at: new Date(now - 30 * DAY) }))).toBe('AA');
    expect(await sendHl7(server, adt(EVE, 'HB', MRNS[1], { visit: 'VB-1', at: new Date(now - 25 * DAY), diagnoses: [{ code: 'F32.9', display: 'Depression' }] }))).toBe('AA');
    expect(await sendHl7(server, adt(EVE, 'HC', MRNS[2], { visit: 'VC-1', at: new Date(now - 20 * DAY) }))).toBe('AA');
    expect(await sendHl7(server, oru(EVE, 'HB', MRNS[1], { order: 'O-HIV', panel: { code: '11502-2', display: 'Laboratory report' }, at: new Date(now - 24 * DAY), results: [{ code: '7917-8', display: 'HIV 1 Ab', type: 'ST', value: 'Negative' }] }))).toBe('AA');
    // A demographic update leaves an older Patient version with the old address: the purge must not keep it.
    expect(await sendHl7(server, adt(EVE, 'HA', MRNS[0], { event: 'A08', street: '1 Old Mill Lane' }))).toBe('AA');
    expect(await sendHl7(server, adt(ADAM, 'HA', 'MA-ADAM', { visit: 'VA-9' }))).toBe('AA');
    for (const [i, f] of ['HA', 'HB', 'HC'].entries()) {
      const found = await patientOf(server, f, MRNS[i]);
      pids.push(found.patientId);
      personId ||= found.personId;
      expect(found.personId).toBe(personId);
    }
    // A document and its Binary through the FHIR API, and a C-CDA upload from hospital C.
    const binary = await fhir(server, feedA, 'POST', '/fhir/Binary', { resourceType: 'Binary', contentType: 'text/plain', securityContext: { reference: `Patient/${pids[0]}` }, data: Buffer.from('discharge note').toString('base64') });
    expect(binary.status).toBe(201);
    const docRef = await fhir(server, feedA, 'POST', '/fhir/DocumentReference', {
      resourceType: 'DocumentReference', status: 'current', subject: { reference: `Patient/${pids[0]}` },
      content: [{ attachment: { contentType: 'text/plain', url: `Binary/${(binary.body as { id: string }).id}` } }],
    });
    expect(docRef.status).toBe(201);
    if (CCD) {
      const feedC = await systemClientToken(server, 'ehr-c', orgC);
      const res = await server.app.inject({ method: 'POST', url: '/ccda', headers: { authorization: `Bearer ${feedC}`, 'content-type': 'application/xml' }, payload: await readFile(CCD, 'utf8') });
      expect(res.statusCode, res.body.slice(0, 300)).toBeLessThan(300);
    }
    registrar = await userWithToken(server, { username: 'reg', role: 'registrar' });
    doctor = await userWithToken(server, { username: 'er-doc', role: 'clinician', organizationId: orgA });
    doomed = (await server.services.db.query<{ resource_type: string; id: string }>(
      `select resource_type, id from resources where person_id = $1 and resource_type not in ('Patient', 'Person', 'Consent')`, [personId])).rows;
  }, 400_000);
  afterAll(async () => server?.stop());

  it('holds clinical data from every channel before the opt-out', async () => {
    const types = new Set(doomed.map((d) => d.resource_type));
    expect([...types]).toEqual(expect.arrayContaining(['Encounter', 'Condition', 'Observation', 'DiagnosticReport', 'Binary', 'DocumentReference']));
    if (CCD) expect(await count(server, `select count(*)::int as n from ingest_messages where channel = 'ccda' and $1 = any(person_ids) and raw is not null`, [personId])).toBe(1);
    const keyed = await rowsForKeys(doomed);
    expect(keyed.search_token).toBeGreaterThan(0);
    expect(keyed.resource_history).toBeGreaterThan(doomed.length - 1);
    expect(await count(server, `select count(*)::int as n from resource_history where resource_type = 'Patient' and id = $1`, [pids[0]])).toBe(2);
    expect((await verifyPurge(server.services.db, personId)).ok).toBe(false);
    // The bodies are sealed, yet readable with the key: what the purge checks below must find gone.
    expect(await count(server, `select count(*)::int as n from ingest_messages where raw like '%MA-7%'`)).toBe(0);
    expect(await bodiesContaining(...MRNS)).toBeGreaterThanOrEqual(5);
    expect(await personBodies()).toBeGreaterThanOrEqual(5);
  });

  it('a crash mid-purge leaves everything in place (one transaction)', async () => {
    const before = await snapshot();
    await server.services.db.query(`create function katahdin_test_crash() returns trigger language plpgsql as $$ begin raise exception 'simulated crash mid-purge'; end $$`);
    await server.services.db.query(`create trigger katahdin_test_crash before delete on search_token for each row when (old.resource_type = 'Observation') execute function katahdin_test_crash()`);
    try {
      const res = await consent(server, registrar, pids[0], 'opt-out', { channel: 'paper' });
      expect(res.status).toBeGreaterThanOrEqual(500);
    } finally {
      await server.services.db.query('drop trigger katahdin_test_crash on search_token');
      await server.services.db.query('drop function katahdin_test_crash()');
    }
    expect(await snapshot()).toEqual(before);
    expect(await personCount('Consent')).toBe(0);
  });

  it('opt-out purges everything but the trimmed Patients, Person and Consent — in every table', async () => {
    const res = await consent(server, registrar, pids[0], 'opt-out', { channel: 'paper' });
    expect(res.status).toBe(200);
    expect(asParams(res).optedOut).toEqual([true]);
    const kept = await server.services.db.query<{ resource_type: string; content: Patient }>('select resource_type, content from resources where person_id = $1', [personId]);
    expect(new Set(kept.rows.map((r) => r.resource_type))).toEqual(new Set(['Patient', 'Person', 'Consent']));
    for (const p of kept.rows.filter((r) => r.resource_type === 'Patient').map((r) => r.content)) {
      expect(Object.keys(p).sort()).toEqual(expect.arrayContaining(['birthDate', 'gender', 'identifier', 'name']));
      expect(p.address ?? p.telecom ?? p.contact).toBeUndefined();
      expect(JSON.stringify(p)).not.toContain('444-22-2222');
    }
    expect(Object.values(await rowsForKeys(doomed)).every((n) => n === 0)).toBe(true);
    expect(await count(server, `select count(*)::int as n from resource_history where resource_type = 'Patient' and id = any($1::text[])`, [pids])).toBe(pids.length);
    expect(await count(server, 'select count(*)::int as n from care_relationships where patient_id = any($1::text[])', [pids])).toBe(0);
    expect(await count(server, 'select count(*)::int as n from protected_values where id = any($1::text[])', [pids])).toBe(0);
    expect(await bodiesContaining(...MRNS)).toBe(0);
    expect(await personBodies()).toBe(0);
    expect(await bodiesContaining('MA-ADAM')).toBe(1); // another person's message keeps its body
    expect(await count(server, 'select count(*)::int as n from audit_log where $1 = any(person_ids)', [personId])).toBeGreaterThan(0);
    const v = await verifyPurge(server.services.db, personId);
    expect(v.tables.filter((t) => t.violations > 0)).toEqual([]);
    expect(v.ok).toBe(true);
  });

  it('verify-purge catches a leftover row in any table, including one added later', async () => {
    // An index row left behind by a purged Observation (its resource is gone: an orphan).
    await server.services.db.query(`insert into search_string (resource_type, id, param, value, raw) values ('Observation', 'ghost', 'code-text', 'hiv', 'HIV')`);
    expect((await verifyPurge(server.services.db, personId)).tables.find((t) => t.table === 'search_string')?.violations).toBe(1);
    await server.services.db.query(`delete from search_string where id = 'ghost'`);
    await server.services.db.query('create table katahdin_test_new_feature (owner text, note text)');
    try {
      await server.services.db.query('insert into katahdin_test_new_feature values ($1, $2)', [`Patient/${pids[1]}`, 'derived']);
      const v = await verifyPurge(server.services.db, personId);
      expect(v.tables.find((t) => t.table === 'katahdin_test_new_feature')).toMatchObject({ rows: 1, violations: 1 });
      expect(v.ok).toBe(false);
    } finally {
      await server.services.db.query('drop table katahdin_test_new_feature');
    }
  });

  it('`katahdin privacy verify-purge` reports the same and exits 0 / 1', async () => {
    const lines: string[] = [];
    expect(await verifyPurgeCommand(server.services.db, personId, (l) => lines.push(l))).toBe(0);
    expect(lines.join('\n')).toContain('PURGE VERIFIED');
    const adam = await patientOf(server, 'HA', 'MA-ADAM');
    expect(await verifyPurgeCommand(server.services.db, adam.patientId, () => undefined)).toBe(1);
    if (kind !== 'postgres') return;
    // The real CLI process against the same database (PostgreSQL only: in-memory PGlite is not shared).
    const cli = (id: string) => runCli(server, 'privacy', 'verify-purge', id);
    const ok = await cli(personId);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain('PURGE VERIFIED');
    expect((await cli(adam.personId)).code).toBe(1);
  }, 300_000);

  it('after opt-out: clinical data over MLLP is acknowledged AA but not stored, and counted without PHI', async () => {
    const discardedBefore = await count(server, `select coalesce(sum(count), 0)::int as n from discarded_data where reason = 'opted-out'`);
    const ack = await sendHl7(server, oru(EVE, 'HB', MRNS[1], { order: 'O-GLU2', panel: { code: '24323-8', display: 'CMP' }, at: new Date(), results: [{ code: '2345-7', display: 'Glucose', type: 'NM', value: '180', units: 'mg/dL' }] }));
    expect(ack).toBe('AA');
    expect(await personCount('Observation')).toBe(0);
    expect(await personCount('DiagnosticReport')).toBe(0);
    expect(await count(server, `select coalesce(sum(count), 0)::int as n from discarded_data where reason = 'opted-out'`)).toBeGreaterThanOrEqual(discardedBefore + 2);
    const rows = await server.services.db.query('select * from discarded_data');
    expect(JSON.stringify(rows.rows)).not.toMatch(/BETTERHALF|MB-7|2345-7|Glucose/i);
    expect(await bodiesContaining('O-GLU2', 'BETTERHALF')).toBe(0);
    expect(await personBodies()).toBe(0);
    expect((await verifyPurge(server.services.db, personId)).ok).toBe(true);
  });

  it('after opt-out: a demographic ADT update is applied to the retained demographics only', async () => {
    expect(await sendHl7(server, adt({ ...EVE, given: 'EVA' }, 'HA', MRNS[0], { event: 'A08', street: '5 New Street' }))).toBe('AA');
    const p = (await server.services.db.query<{ content: Patient }>(`select content from resources where resource_type = 'Patient' and id = $1`, [pids[0]])).rows[0].content;
    expect(p.name?.[0].given).toEqual(['EVA']);
    expect(p.address).toBeUndefined();
    // The sender's update lands on its (trimmed) record: no duplicate source Patient appears.
    expect(await count(server, `select count(*)::int as n from resources where resource_type = 'Patient' and content::text like '%"MA-7"%'`)).toBe(1);
    expect((await patientOf(server, 'HA', MRNS[0])).personId).toBe(personId);
    const v = await verifyPurge(server.services.db, personId);
    expect(v.tables.filter((t) => t.violations > 0)).toEqual([]);
    expect(v.ok).toBe(true);
  });

  it('after opt-out: a FHIR create answers 201 but stores nothing; break-the-glass shows no clinical data', async () => {
    const res = await fhir(server, feedA, 'POST', '/fhir/Observation', {
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: `Patient/${pids[0]}` }, effectiveDateTime: new Date().toISOString(), valueQuantity: { value: 70, unit: '/min' },
    });
    expect(res.status).toBe(201);
    expect(await personCount('Observation')).toBe(0);
    expect((await fhir(server, doctor, 'POST', `/fhir/Patient/${pids[0]}/$break-the-glass`, { resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: 'trauma' }] })).status).toBe(200);
    const all = asBundle(await fhir(server, doctor, 'GET', `/fhir/Patient/${pids[0]}/$everything`));
    const types = [...new Set((all.entry ?? []).map((e) => e.resource?.resourceType))];
    expect(types.filter((t) => !['Patient', 'Person', 'Consent'].includes(t!))).toEqual([]);
  });

  it('opt back in with a date: later visits are kept, a late result from before the date is discarded', async () => {
    const optInDate = new Date();
    const res = await consent(server, registrar, pids[0], 'opt-in', { channel: 'phone', date: optInDate.toISOString() });
    expect(res.status).toBe(200);
    expect(asParams(res).optedOut).toEqual([false]);
    const after = new Date(optInDate.getTime() + 60_000);
    expect(await sendHl7(server, adt(EVE, 'HC', MRNS[2], { visit: 'VC-2', at: after }))).toBe('AA');
    expect(await personCount('Encounter')).toBe(1);
    const late = oru(EVE, 'HB', MRNS[1], { order: 'O-LATE', panel: { code: '24323-8', display: 'CMP' }, at: new Date(optInDate.getTime() - 5 * DAY), results: [{ code: '2345-7', display: 'Glucose', type: 'NM', value: '99', units: 'mg/dL' }] });
    expect(await sendHl7(server, late)).toBe('AA');
    expect(await personCount('Observation')).toBe(0);
    expect(await count(server, `select coalesce(sum(count), 0)::int as n from discarded_data where reason = 'before-opt-in'`)).toBeGreaterThan(0);
    expect(await sendHl7(server, oru(EVE, 'HB', MRNS[1], { order: 'O-NEW', panel: { code: '24323-8', display: 'CMP' }, at: after, results: [{ code: '2345-7', display: 'Glucose', type: 'NM', value: '101', units: 'mg/dL' }] }))).toBe('AA');
    expect(await personCount('Observation')).toBe(1);
    const fhirLate = await fhir(server, feedA, 'POST', '/fhir/Observation', {
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: `Patient/${pids[0]}` }, effectiveDateTime: new Date(optInDate.getTime() - DAY).toISOString(), valueQuantity: { value: 70, unit: '/min' },
    });
    expect(fhirLate.status).toBe(201);
    expect(await personCount('Observation')).toBe(1);
  });
});
