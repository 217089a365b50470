import type { DiagnosticReport, Encounter, MedicationDispense, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { facilityOrganization, patientOf } from '../privacy/support.ts';
import { databaseKinds } from '../support/databases.ts';
import { runCli, startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';

const FAC = 'UPDMC';
const msh = (type: string, control: string) => `MSH|^~\\&|EHR|${FAC}|KATAHDIN|HIE|20260301090000-0500||${type}|${control}|P|2.5.1`;
const pid = (mrn: string, family: string, given: string, born: string, street = '7 ELM ST') =>
  `PID|1||${mrn}^^^${FAC}^MR||${family}^${given}||${born}|F|||${street}^^AUGUSTA^ME^04330`;

/** PV1 with the visit number (PV1-19) and admit / discharge times (PV1-44 / PV1-45). */
function pv1(visit: string, admit: string, discharge = ''): string {
  const fields = Array.from({ length: 46 }, () => '');
  Object.assign(fields, { 0: 'PV1', 1: '1', 2: 'I', 3: 'MED^201^B^UPDMC', 19: `${visit}^^^${FAC}^VN`, 44: admit, 45: discharge });
  return fields.join('|').replace(/\|+$/, '');
}

const adt = (event: string, control: string, mrn: string, visit: string, discharge = '', street?: string) =>
  [msh(`ADT^${event}^ADT_A01`, control), `EVN|${event}|20260301090000-0500`, pid(mrn, 'PARKER', 'NORA', '19610412', street), pv1(visit, '20260301080000-0500', discharge)].join('\r');

const oru = (control: string, mrn: string, value: string, status: string) => [
  msh('ORU^R01^ORU_R01', control), pid(mrn, 'PARKER', 'NORA', '19610412'),
  'ORC|RE|PUPD1^EHR|FUPD1^LAB^1.2.9^ISO',
  'OBR|1|PUPD1^EHR|FUPD1^LAB^1.2.9^ISO|24323-8^Comprehensive metabolic panel^LN|||20260301070000-0500|||||||||||||||20260301100000-0500|||' + status,
  `OBX|1|NM|2345-7^Glucose^LN||${value}|mg/dL^mg/dL^UCUM|70-99|H|||${status}`,
].join('\r');

const msa = (ack: string) => ack.split('\r').find((s) => s.startsWith('MSA|'))?.split('|') ?? [];

describe.each(await databaseKinds())('HL7 v2 over POST /hl7v2: updates, cancels, corrections, merges and retries (%s)', (kind) => {
  let server: TestServer;
  let orgId: string;
  let token: string;
  const post = (body: string, auth = token, type = 'x-application/hl7-v2+er7') =>
    server.app.inject({ method: 'POST', url: '/hl7v2', payload: body, headers: { authorization: `Bearer ${auth}`, 'content-type': type } });
  const send = async (body: string) => {
    const res = await post(body);
    expect(res.statusCode, res.body).toBe(200);
    return res.body;
  };
  /** Current, not deleted resources of a type whose JSON mentions `text` (test oracle). */
  const stored = <T extends Resource>(type: string, text: string) =>
    run<{ id: string; content: T; source_org: string | null; person_id: string | null }>(server.services.db,
      sql`select id, content, source_org, person_id from resources where resource_type = ${type} and not deleted and content::text like ${`%${text}%`} order by id`);

  beforeAll(async () => {
    server = await startTestServer(kind);
    orgId = await facilityOrganization(server, FAC);
    token = await systemClientToken(server, `hl7-http-${kind}`, orgId);
  }, 240_000);
  afterAll(async () => server?.stop(), 60_000);

  it('answers the original-mode ACK as ER7 and files the message under the client\'s organization', async () => {
    const res = await post(adt('A01', 'UPD-1', 'UMRN1', 'UV1'));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^x-application\/hl7-v2\+er7/);
    const [mshAck] = res.body.split('\r');
    // Sender and receiver swapped: MSH-3/4 of the ACK are MSH-5/6 of the message and vice versa.
    expect(mshAck.split('|').slice(2, 6)).toEqual(['KATAHDIN', 'HIE', 'EHR', FAC]);
    expect(msa(res.body).slice(0, 3)).toEqual(['MSA', 'AA', 'UPD-1']);
    const [patient] = await stored<Patient>('Patient', 'UMRN1');
    expect(patient.source_org).toBe(orgId);
    expect(patient.content.name?.[0]).toMatchObject({ family: 'PARKER', given: ['NORA'] });
    expect(patient.content.birthDate).toBe('1961-04-12');
  }, 120_000);

  it('refuses what it cannot apply with AE/AR and an ERR naming the field; non-system callers get 403', async () => {
    const missingId = await send([msh('ADT^A01^ADT_A01', 'UPD-BAD'), 'EVN|A01', 'PID|1||||NOID^NONE', 'PV1|1|I'].join('\r'));
    expect(msa(missingId).slice(0, 3)).toEqual(['MSA', 'AE', 'UPD-BAD']);
    expect(missingId.split('\r').find((s) => s.startsWith('ERR|'))).toBe('ERR|PID^1^3^101&PID-3 patient identifier missing&HL70357|PID^1^3|101^PID-3 patient identifier missing^HL70357|E');
    const siu = await send([msh('SIU^S12^SIU_S12', 'UPD-SIU'), pid('UMRN1', 'PARKER', 'NORA', '19610412')].join('\r'));
    expect(msa(siu).slice(0, 2)).toEqual(['MSA', 'AR']);
    expect(siu).toMatch(/\rERR\|[^\r]*\|200\^/);
    expect((await post('   ')).statusCode).toBe(400);
    const clinician = await userWithToken(server, { username: `hl7-clin-${kind}`, role: 'clinician', organizationId: orgId });
    const refused = await post(adt('A08', 'UPD-CLIN', 'UMRN1', 'UV1'), clinician);
    expect(refused.statusCode).toBe(403);
    expect((refused.json() as OperationOutcome).resourceType).toBe('OperationOutcome');
  }, 120_000);

  it('A01 → A08 → A03 → A11 → A13 on one visit number keep one Encounter and one Patient, updated by each event', async () => {
    const encounter = async () => {
      const rows = await stored<Encounter>('Encounter', 'UV2');
      expect(rows).toHaveLength(1);
      return rows[0].content;
    };
    await send(adt('A01', 'UPD-2', 'UMRN2', 'UV2'));
    expect(await encounter()).toMatchObject({ status: 'in-progress', period: { start: '2026-03-01T08:00:00-05:00' } });
    await send(adt('A08', 'UPD-3', 'UMRN2', 'UV2', '', '9 BIRCH RD'));
    const patients = await stored<Patient>('Patient', 'UMRN2');
    expect(patients).toHaveLength(1);
    expect(patients[0].content.address?.[0].line).toEqual(['9 BIRCH RD']);
    await send(adt('A03', 'UPD-4', 'UMRN2', 'UV2', '20260303113000-0500'));
    expect(await encounter()).toMatchObject({ status: 'finished', period: { start: '2026-03-01T08:00:00-05:00', end: '2026-03-03T11:30:00-05:00' } });
    await send(adt('A13', 'UPD-5', 'UMRN2', 'UV2'));
    const reopened = await encounter();
    expect(reopened.status).toBe('in-progress');
    expect(reopened.period).toEqual({ start: '2026-03-01T08:00:00-05:00' });
    await send(adt('A11', 'UPD-6', 'UMRN2', 'UV2'));
    expect((await encounter()).status).toBe('cancelled');
    expect(await stored<Patient>('Patient', 'UMRN2')).toHaveLength(1);
  }, 120_000);

  it('a corrected result (OBX-11 C) replaces the original: one report, one Observation with the corrected value', async () => {
    expect(msa(await send(oru('UPD-7', 'UMRN2', '182', 'F')))[1]).toBe('AA');
    expect(msa(await send(oru('UPD-8', 'UMRN2', '168', 'C')))[1]).toBe('AA');
    const reports = await stored<DiagnosticReport>('DiagnosticReport', 'FUPD1');
    expect(reports).toHaveLength(1);
    expect(reports[0].content.status).toBe('corrected');
    const glucose = await stored<Observation>('Observation', '2345-7');
    expect(glucose).toHaveLength(1);
    expect(glucose[0].content).toMatchObject({ status: 'corrected', valueQuantity: { value: 168, unit: 'mg/dL' }, referenceRange: [{ text: '70-99' }] });
    const versions = await run<{ n: number }>(server.services.db, sql`select count(*)::int as n from resource_history where resource_type = 'Observation' and id = ${glucose[0].id}`);
    expect(versions[0].n).toBe(2);
    expect(reports[0].content.result?.map((r) => r.reference)).toEqual([`Observation/${glucose[0].id}`]);
  }, 120_000);

  it('ADT^A40 merges the retired record\'s person into the survivor\'s', async () => {
    // Registered under a wrong name and birth date, so the MPI keeps the two records apart until the sender merges them.
    await send([msh('ADT^A04^ADT_A01', 'UPD-9'), 'EVN|A04', pid('UOLD1', 'VANTERPOOL', 'MIRABEL', '19870930', '1 OAK LN'), 'PV1|1|O'].join('\r'));
    await send([msh('ADT^A04^ADT_A01', 'UPD-10'), 'EVN|A04', pid('UNEW1', 'QUILLE', 'ERNIE', '19440201', '3 PINE CT'), 'PV1|1|O'].join('\r'));
    const [retired, survivor] = [await patientOf(server, FAC, 'UOLD1'), await patientOf(server, FAC, 'UNEW1')];
    expect(retired.personId).not.toBe(survivor.personId);
    const ack = await send([msh('ADT^A40^ADT_A39', 'UPD-11'), 'EVN|A40', pid('UNEW1', 'QUILLE', 'ERNIE', '19440201', '3 PINE CT'), `MRG|UOLD1^^^${FAC}^MR`].join('\r'));
    expect(msa(ack)[1]).toBe('AA');
    expect((await patientOf(server, FAC, 'UOLD1')).personId).toBe((await patientOf(server, FAC, 'UNEW1')).personId);
    expect(await stored<Patient>('Patient', 'UNEW1')).toHaveLength(1);
  }, 120_000);

  it('a dispense sent before its order waits in the error queue; once the order arrives, an administrator\'s retry applies it', async () => {
    const rds = [msh('RDS^O13^RDS_O13', 'UPD-12'), pid('UMRN2', 'PARKER', 'NORA', '19610412'), 'ORC|RE|UORD1^EHR', 'RXD|1|00071015523^Lipitor 10mg^NDC|20260302|30|TAB'].join('\r');
    const early = msa(await send(rds));
    expect(early.slice(0, 3)).toEqual(['MSA', 'AE', 'UPD-12']);
    const admin = await userWithToken(server, { username: `hl7-admin-${kind}`, role: 'admin' });
    const call = (url: string, method: 'GET' | 'POST' = 'GET') => server.app.inject({ method, url, headers: { authorization: `Bearer ${admin}` } });
    const queued = (await call('/admin/ingest/errors')).json() as Array<{ id: string; controlId: string; status: string; type: string }>;
    const entry = queued.find((q) => q.controlId === 'UPD-12');
    expect(entry).toMatchObject({ status: 'error', type: 'RDS^O13' });
    await send([msh('RDE^O11^RDE_O11', 'UPD-13'), pid('UMRN2', 'PARKER', 'NORA', '19610412'), 'ORC|NW|UORD1^EHR', 'RXE||83367^Atorvastatin^RXNORM|10||mg'].join('\r'));
    const retry = await call(`/admin/ingest/errors/${entry!.id}/retry`, 'POST');
    expect(retry.json()).toEqual({ status: 'processed' });
    const [dispense] = await stored<MedicationDispense>('MedicationDispense', '00071015523');
    expect(dispense.content).toMatchObject({ whenHandedOver: '2026-03-02', quantity: { value: 30, unit: 'TAB' } });
    const [order] = await stored('MedicationRequest', 'UORD1');
    expect(dispense.content.authorizingPrescription?.[0].reference).toBe(`MedicationRequest/${order.id}`);
    expect(((await call('/admin/ingest/errors')).json() as Array<{ controlId: string }>).map((q) => q.controlId)).not.toContain('UPD-12');
    // The sender's resend of the retried message is answered from the inbox, not applied again.
    expect(msa(await send(rds))[1]).toBe('AA');
    expect(await stored('MedicationDispense', '00071015523')).toHaveLength(1);
  }, 120_000);

  it('`katahdin ingest errors` lists the queue without message content and `katahdin ingest retry` reprocesses (PostgreSQL: a separate process)', async () => {
    if (kind !== 'postgres') return;
    const cli = (...args: string[]) => runCli(server, 'ingest', ...args);
    const rds = [msh('RDS^O13^RDS_O13', 'UPD-14'), pid('UMRN2', 'PARKER', 'NORA', '19610412'), 'ORC|RE|UORD2^EHR', 'RXD|1|00093505698^Metformin 500mg^NDC|20260304|60|TAB'].join('\r');
    expect(msa(await send(rds))[1]).toBe('AE');
    const listed = await cli('errors');
    expect(listed.code, listed.out).toBe(0);
    const line = listed.out.split('\n').find((l) => l.includes('\tUPD-14\t'));
    // Over HTTP the inbox sender is the client's organization, not MSH-4.
    expect(line?.split('\t').slice(2, 6)).toEqual(['error', `org:${orgId}`, 'RDS^O13', 'UPD-14']);
    expect(listed.out).toContain('\tUPD-BAD\t');
    for (const phi of ['PARKER', 'UMRN2', 'Metformin']) expect(listed.out).not.toContain(phi);
    const id = line!.split('\t')[0];
    expect(await cli('retry', id)).toEqual({ code: 1, out: `${id}: error\n` });
    await send([msh('RDE^O11^RDE_O11', 'UPD-15'), pid('UMRN2', 'PARKER', 'NORA', '19610412'), 'ORC|NW|UORD2^EHR', 'RXE||861007^Metformin 500 MG Oral Tablet^RXNORM|500||mg'].join('\r'));
    expect(await cli('retry', id)).toEqual({ code: 0, out: `${id}: processed\n` });
    expect((await stored<MedicationDispense>('MedicationDispense', '00093505698'))[0].content.quantity?.value).toBe(60);
  }, 180_000);
});
