import type { Bundle, DiagnosticReport, Encounter, Observation, Patient, Provenance } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/access/context.ts';
import { frame } from '../../src/ingest/hl7v2/mllp-framer.ts';
import { FACILITY_SYSTEM } from '../../src/ingest/sender-context.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { ackOf, MllpClient } from '../../bench/ingest/mllp-client.ts';
import { adtA01, FACILITY, oruR01, unmappableAdt } from '../../bench/ingest/messages.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';

async function resourceCounts(server: TestServer): Promise<Record<string, number>> {
  const rows = await run<{ t: string; n: number }>(server.services.db, sql`select resource_type as t, count(*)::int as n from resources group by 1`);
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}

describe.each(await databaseKinds())('HL7 v2 over MLLP end to end (%s)', (kind) => {
  let server: TestServer;
  let client: MllpClient;
  let token: string;
  const fhir = async <T>(url: string) => {
    const res = await server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode, url).toBe(200);
    return res.json() as T;
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    client = await MllpClient.connect(server.mllpPort!);
  }, 240_000);
  afterAll(async () => {
    client?.close();
    await server?.stop();
  }, 60_000);

  it('acknowledges an ADT^A01 then an ORU^R01 with AA and files them in one record, with provenance', async () => {
    expect(ackOf(await client.send(adtA01('E2E-1', 'MRN100', 'HOLMES')))).toMatchObject({ code: 'AA', controlId: 'E2E-1' });
    expect(ackOf(await client.send(oruR01('E2E-2', 'MRN100', 'HOLMES')))).toMatchObject({ code: 'AA', controlId: 'E2E-2' });

    const org = await server.services.gate.run(systemContext('test'), { action: 'read' }, (scope) =>
      scope.searchType('Organization', [['identifier', `${FACILITY_SYSTEM}|${FACILITY}`]], false));
    token = await systemClientToken(server, `sender-${kind}`, org.matches[0].id!);

    const patients = await fhir<Bundle<Patient>>(`/fhir/Patient?identifier=MRN100`);
    expect(patients.entry).toHaveLength(1);
    const patient = patients.entry![0].resource!;
    expect(patient.name?.[0].family).toBe('HOLMES');
    const encounters = await fhir<Bundle<Encounter>>(`/fhir/Encounter?patient=Patient/${patient.id}`);
    expect(encounters.entry).toHaveLength(1);
    const reports = await fhir<Bundle<DiagnosticReport>>(`/fhir/DiagnosticReport?patient=Patient/${patient.id}`);
    expect(reports.entry).toHaveLength(1);
    const observations = await fhir<Bundle<Observation>>(`/fhir/Observation?patient=Patient/${patient.id}`);
    const glucose = observations.entry?.find((e) => e.resource?.code?.coding?.[0]?.code === '2345-7')?.resource;
    expect(observations.entry).toHaveLength(2);
    expect(glucose?.valueQuantity).toMatchObject({ value: 182, unit: 'mg/dL' });
    const provenance = await run<{ content: Provenance }>(server.services.db, sql`select content from resources where resource_type = 'Provenance' and person_id is not null`);
    const targets = provenance.flatMap((p) => p.content.target.map((t) => t.reference));
    expect(targets).toContain(`DiagnosticReport/${reports.entry![0].resource!.id}`);
    expect(targets).toContain(`Encounter/${encounters.entry![0].resource!.id}`);
  }, 120_000);

  it('answers a replayed control id with the same ACK and writes nothing', async () => {
    const before = await resourceCounts(server);
    const first = await client.send(oruR01('E2E-3', 'MRN100', 'HOLMES'));
    const afterFirst = await resourceCounts(server);
    const again = await client.send(oruR01('E2E-3', 'MRN100', 'HOLMES'));
    expect(ackOf(first).code).toBe('AA');
    expect(again).toBe(first);
    expect(await resourceCounts(server)).toEqual(afterFirst);
    expect(afterFirst.Observation).toBe(before.Observation + 2);
  }, 120_000);

  it('reassembles a message split across TCP packets and answers two messages sent in one packet', async () => {
    const bytes = frame(adtA01('E2E-4', 'MRN200', 'WATSON'));
    const cuts = [1, 17, Math.floor(bytes.length / 2), bytes.length - 1];
    let from = 0;
    for (const cut of cuts) {
      client.write(bytes.subarray(from, cut));
      from = cut;
      await new Promise((r) => setTimeout(r, 20));
    }
    client.write(bytes.subarray(from));
    expect(ackOf(await client.nextAck())).toMatchObject({ code: 'AA', controlId: 'E2E-4' });

    client.write(Buffer.concat([frame(adtA01('E2E-5', 'MRN300', 'HUDSON')), frame(oruR01('E2E-6', 'MRN300', 'HUDSON'))]));
    const acks = [ackOf(await client.nextAck()), ackOf(await client.nextAck())];
    expect(acks.map((a) => [a.code, a.controlId])).toEqual([['AA', 'E2E-5'], ['AA', 'E2E-6']]);
  }, 120_000);

  it('refuses a malformed message with an ERR segment and stays healthy', async () => {
    const ack = ackOf(await client.send('MSH|^~\\&|EHR|KTEST\rPID|1||X'));
    expect(['AR', 'AE']).toContain(ack.code);
    expect(ack.err).toMatch(/^ERR\|/);
    const garbage = ackOf(await client.send('\u0000\u0001 not hl7 at all'));
    expect(['AR', 'AE']).toContain(garbage.code);
    expect((await server.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect(ackOf(await client.send(adtA01('E2E-7', 'MRN400', 'LESTRADE'))).code).toBe('AA');
  }, 120_000);

  it('puts an unmappable message in the error queue, where an administrator can inspect and retry it', async () => {
    const ack = ackOf(await client.send(unmappableAdt('E2E-8')));
    expect(ack.code).toBe('AE');
    expect(ack.err).toContain('PID');
    const admin = await userWithToken(server, { username: `ingest-admin-${kind}`, role: 'admin' });
    const get = (url: string, method: 'GET' | 'POST' = 'GET') => server.app.inject({ method, url, headers: { authorization: `Bearer ${admin}` } });
    const queue = (await get('/admin/ingest/errors')).json() as Array<{ id: string; controlId: string; reason: string }>;
    const entry = queue.find((q) => q.controlId === 'E2E-8');
    expect(entry?.reason).toMatch(/PID-3/);
    const detail = (await get(`/admin/ingest/errors/${entry!.id}`)).json() as { raw: string; ack: string };
    expect(detail.raw).toContain('E2E-8');
    const retry = await get(`/admin/ingest/errors/${entry!.id}/retry`, 'POST');
    expect(retry.statusCode).toBe(200);
    expect(retry.json()).toEqual({ status: 'error' });
    expect((await get('/admin/ingest/errors/no-such-id/retry', 'POST')).statusCode).toBe(404);
  }, 180_000);
});
