/**
 * `katahdin privacy relabel` (privacy-rules §4): resources stored before the value sets named their codes get the
 * labels the current value sets give them (resources.security and meta.security), labels propagate along references,
 * and the privacy filter withholds them from then on; earlier versions are relabelled too. Idempotent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { relabelCommand } from '../../src/privacy-ops/operator-commands.ts';
import { relabelAll } from '../../src/privacy-ops/relabel.ts';
import { databaseKinds } from '../support/databases.ts';
import { runCli, startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { asBundle, facilityOrganization, fhir } from './support.ts';

const kinds = await databaseKinds();

describe.each(kinds)('privacy relabel on %s', (kind) => {
  let server: TestServer;
  let feed = '';
  let doctor = '';
  let patient = '';
  const ids = { condition: '', hivObs: '', report: '', plain: '' };

  async function create(body: Resource): Promise<string> {
    const res = await fhir(server, feed, 'POST', `/fhir/${body.resourceType}`, body);
    if (res.status !== 201) throw new Error(`create ${body.resourceType}: ${res.status}`);
    return (res.body as Resource).id!;
  }
  /** What value sets of an older version would have given: no labels at all on these rows. */
  async function forgetLabels(keys: string[]): Promise<void> {
    await server.services.db.query(`update resources set security = '{}', content = content #- '{meta,security}' where id = any($1::text[])`, [keys]);
  }
  const labelsOf = async (id: string) => {
    const r = await server.services.db.query<{ security: string[]; meta: string[] | null }>(
      `select security, (select array_agg(s->>'code') from jsonb_array_elements(content->'meta'->'security') s) as meta from resources where id = $1`, [id]);
    return { column: r.rows[0].security, meta: r.rows[0].meta ?? [] };
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await facilityOrganization(server, 'RL');
    feed = await systemClientToken(server, 'relabel-ehr', org);
    doctor = await userWithToken(server, { username: 'rl-doc', role: 'clinician', organizationId: org });
    patient = await create({ resourceType: 'Patient', identifier: [{ system: 'urn:katahdin:id:RL', value: 'R1' }], name: [{ family: 'Relabel', given: ['Rita'] }], gender: 'female', birthDate: '1990-09-09' });
    const subject = { reference: `Patient/${patient}` };
    const when = new Date(Date.now() - 86_400_000).toISOString();
    await create({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject, period: { start: when } });
    ids.condition = await create({ resourceType: 'Condition', subject, code: { coding: [{ system: 'http://snomed.info/sct', code: '35489007' }] }, recordedDate: when });
    ids.hivObs = await create({ resourceType: 'Observation', status: 'final', subject, code: { coding: [{ system: 'http://loinc.org', code: '7917-8' }] }, effectiveDateTime: when, valueString: 'Negative' });
    ids.report = await create({ resourceType: 'DiagnosticReport', status: 'final', subject, code: { coding: [{ system: 'http://loinc.org', code: '11502-2' }] }, result: [{ reference: `Observation/${ids.hivObs}` }], issued: when });
    ids.plain = await create({ resourceType: 'Observation', status: 'final', subject, code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] }, effectiveDateTime: when, valueQuantity: { value: 90 } });
  }, 300_000);
  afterAll(async () => server?.stop());

  it('re-applies the current value sets, in the column and in meta.security, with propagation', async () => {
    expect((await labelsOf(ids.condition)).column).toEqual(['PSY']);
    await forgetLabels([ids.condition, ids.hivObs, ids.report]);
    const visibleBefore = asBundle(await fhir(server, doctor, 'GET', `/fhir/Condition?patient=Patient/${patient}`)).total;
    expect(visibleBefore).toBe(1);
    const lines: string[] = [];
    expect(await relabelCommand(server.services.db, (l) => lines.push(l), server.services.fhirBase)).toBe(0);
    expect(lines[0]).toMatch(/3 relabelled \(labels added: (PSY \+1, HIV \+2|HIV \+2, PSY \+1)\)/);
    expect(await labelsOf(ids.condition)).toEqual({ column: ['PSY'], meta: ['PSY'] });
    expect(await labelsOf(ids.hivObs)).toEqual({ column: ['HIV'], meta: ['HIV'] });
    expect(await labelsOf(ids.report)).toEqual({ column: ['HIV'], meta: ['HIV'] });
    expect((await labelsOf(ids.plain)).column).toEqual([]);
    const version = await server.services.db.query<{ content: Resource }>(`select h.content from resource_history h join resources r using (resource_type, id) where r.id = $1 and h.version_id = r.version_id`, [ids.condition]);
    expect(version.rows[0].content.meta?.security?.map((s) => s.code)).toEqual(['PSY']);
  });

  it('the privacy filter withholds the relabelled data from then on', async () => {
    expect(asBundle(await fhir(server, doctor, 'GET', `/fhir/Condition?patient=Patient/${patient}`)).total).toBe(0);
    const obs = asBundle(await fhir(server, doctor, 'GET', `/fhir/Observation?patient=Patient/${patient}`));
    expect((obs.entry ?? []).map((e) => e.resource?.id)).toEqual([ids.plain]);
  });

  it('is idempotent', async () => {
    const again = await relabelAll(server.services.db);
    expect(again.relabelled).toBe(0);
    expect(again.versions).toBe(0);
    expect(again.scanned).toBeGreaterThanOrEqual(5);
  });

  it('relabels earlier versions: one holding a code the value sets name only now is withheld by vread and history', async () => {
    const subject = { reference: `Patient/${patient}` };
    const when = new Date(Date.now() - 86_400_000).toISOString();
    const id = await create({ resourceType: 'Observation', status: 'final', subject, code: { coding: [{ system: 'http://loinc.org', code: '7917-8' }] }, effectiveDateTime: when, valueString: 'Reactive' });
    const corrected = await fhir(server, feed, 'PUT', `/fhir/Observation/${id}`, { resourceType: 'Observation', id, status: 'entered-in-error', subject, code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] }, effectiveDateTime: when });
    expect(corrected.status).toBe(200);
    // As if the first version had been stored before the value sets listed its code.
    await server.services.db.query(`update resource_history set security = '{}', content = content #- '{meta,security}' where resource_type = 'Observation' and id = $1 and version_id = 1`, [id]);
    expect((await fhir(server, doctor, 'GET', `/fhir/Observation/${id}/_history/1`)).status).toBe(200);
    const report = await relabelAll(server.services.db);
    expect([report.relabelled, report.versions]).toEqual([0, 1]);
    const versions = await server.services.db.query<{ version_id: number; security: string[]; meta: string[] | null }>(
      `select version_id, security, (select array_agg(s->>'code') from jsonb_array_elements(content->'meta'->'security') s) as meta
       from resource_history where resource_type = 'Observation' and id = $1 order by version_id`, [id]);
    expect(versions.rows).toEqual([{ version_id: 1, security: ['HIV'], meta: ['HIV'] }, { version_id: 2, security: [], meta: null }]);
    expect((await fhir(server, doctor, 'GET', `/fhir/Observation/${id}/_history/1`)).status).toBe(403);
    const history = asBundle(await fhir(server, doctor, 'GET', `/fhir/Observation/${id}/_history`));
    expect((history.entry ?? []).map((e) => e.resource?.meta?.versionId)).toEqual(['2']);
    expect((await relabelAll(server.services.db)).versions).toBe(0);
  });

  it('runs as `katahdin privacy relabel` (PostgreSQL: a separate process on the same database)', async () => {
    if (kind !== 'postgres') return;
    await forgetLabels([ids.condition]);
    const r = await runCli(server, 'privacy', 'relabel');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/1 relabelled \(labels added: PSY \+1\)/);
    expect((await labelsOf(ids.condition)).column).toEqual(['PSY']);
  }, 200_000);
});
