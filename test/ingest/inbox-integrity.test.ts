import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiveHl7 } from '../../src/ingest/hl7v2-pipeline.ts';
import { errorQueue, purgeRawForPerson } from '../../src/ingest/inbox.ts';
import { retryInboxMessage } from '../../src/ingest/reprocess.ts';
import { recoverPending } from '../../src/ingest/start-ingestion.ts';
import { verifyPurge } from '../../src/privacy-ops/verify-purge.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { consent, facilityOrganization, patientOf } from '../privacy/support.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';

const msh = (facility: string, type: string, control: string, processing = 'P', app = 'LAB') =>
  `MSH|^~\\&|${app}|${facility}|HIE|HIE|20260301090000-0500||${type}|${control}|${processing}|2.5.1`;
const pid = (facility: string, mrn: string) => `PID|1||${mrn}^^^${facility}^MR||DOE^JANE||19700101|F`;
const msa = (ack: string) => ack.split('\r').find((l) => l.startsWith('MSA|')) ?? '';
const err = (ack: string) => ack.split('\r').find((l) => l.startsWith('ERR|')) ?? '';

describe.each(await databaseKinds())('ingestion inbox integrity (%s)', (kind) => {
  let server: TestServer;
  const db = () => server.services.db;
  const countOf = async (type: string, text: string) =>
    (await run<{ n: number }>(db(), sql`select count(*)::int as n from resources where resource_type = ${type} and not deleted and content::text like ${`%${text}%`}`))[0].n;
  const row = async (control: string) =>
    (await run<{ id: string; status: string; sender: string; person_ids: string[]; has_raw: boolean }>(db(),
      sql`select id, status, sender, person_ids, raw is not null as has_raw from ingest_messages where control_id = ${control}`))[0];

  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => server?.stop());

  it('the same control id twice at once is applied once, and both copies get the same ACK', async () => {
    await receiveHl7(server.services, [msh('FC1', 'ADT^A04^ADT_A01', 'CC0'), 'EVN|A04', pid('FC1', 'CMRN1')].join('\r'), 'mllp');
    const raw = [msh('FC1', 'ORU^R01^ORU_R01', 'CC1'), pid('FC1', 'CMRN1'), 'OBR|1|CORD1|CORD1F|GLU^Glucose^L', 'OBX|1|NM|GLU^Glucose^L||100|mg/dL|70-99|H|||F'].join('\r');
    const [a, b] = await Promise.all([receiveHl7(server.services, raw, 'mllp'), receiveHl7(server.services, raw, 'mllp')]);
    expect([a.status, b.status].sort()).toEqual(['duplicate', 'processed']);
    expect(a.ack).toBe(b.ack);
    expect(await countOf('DiagnosticReport', 'CORD1')).toBe(1);
    expect(await countOf('Observation', 'CORD1')).toBe(1);
    // An administrator's retry of the processed row answers its outcome and writes nothing.
    expect(await retryInboxMessage(server.services, (await row('CC1')).id)).toMatchObject({ status: 'duplicate' });
    expect(await countOf('Observation', 'CORD1')).toBe(1);
  });

  it('over HTTP the sender is the client organization (de-duplication and retry)', async () => {
    const [orgA, orgB] = [await facilityOrganization(server, 'HOSPA'), await facilityOrganization(server, 'HOSPB')];
    const [tokA, tokB] = [await systemClientToken(server, 'client-a', orgA), await systemClientToken(server, 'client-b', orgB)];
    const post = (body: string, tok: string) => server.app.inject({ method: 'POST', url: '/hl7v2', payload: body, headers: { authorization: `Bearer ${tok}`, 'content-type': 'x-application/hl7-v2+er7' } });
    const adt = (mrn: string) => [`MSH|^~\\&|EPIC||HIE|HIE|20260301090000-0500||ADT^A04^ADT_A01|1001|P|2.5.1`, 'EVN|A04', `PID|1||${mrn}^^^EPIC^MR||DOE^JANE||19700101|F`].join('\r');
    expect(msa((await post(adt('HAAA1'), tokA)).body)).toMatch(/^MSA\|AA\|1001/);
    expect(msa((await post(adt('HBBB1'), tokB)).body)).toMatch(/^MSA\|AA\|1001/);
    expect(await countOf('Patient', 'HAAA1')).toBe(1);
    expect(await countOf('Patient', 'HBBB1')).toBe(1);
    const senders = await run<{ sender: string }>(db(), sql`select sender from ingest_messages where control_id = '1001' order by sender`);
    expect(senders.map((r) => r.sender)).toEqual([`org:${orgA}`, `org:${orgB}`].sort());

    // An RDS before its order fails (AE); the sender's resend after the RDE is processed again, under the client's organization.
    const m = (type: string, control: string) => `MSH|^~\\&|PHARM|ZFAC|HIE|HIE|20260301090000-0500||${type}|${control}|P|2.5.1`;
    const rds = [m('RDS^O13^RDS_O13', 'Z1'), 'PID|1||ZMRN1^^^ZFAC^MR||PARKER^NORA||19610412|F', 'ORC|RE|ZORD1^EHR', 'RXD|1|00071015523^Lipitor 10mg^NDC|20260302|30|TAB'].join('\r');
    expect(msa((await post(rds, tokA)).body)).toMatch(/^MSA\|AE\|Z1/);
    const rde = [m('RDE^O11^RDE_O11', 'Z2'), 'PID|1||ZMRN1^^^ZFAC^MR||PARKER^NORA||19610412|F', 'ORC|NW|ZORD1^EHR', 'RXE||83367^Atorvastatin^RXNORM|10||mg'].join('\r');
    expect(msa((await post(rde, tokA)).body)).toMatch(/^MSA\|AA\|Z2/);
    expect(msa((await post(rds, tokA)).body)).toMatch(/^MSA\|AA\|Z1/);
    const dispenses = await run<{ source_org: string }>(db(), sql`select source_org from resources where resource_type = 'MedicationDispense' and content::text like '%00071015523%'`);
    expect(dispenses.map((d) => d.source_org)).toEqual([orgA]);
    expect(msa((await post(rds, tokA)).body)).toMatch(/^MSA\|AA\|Z1/);
    expect(dispenses.length).toBe(1);
  });

  it('control characters in MSH-4 or MSH-10 are refused with AR 102, and the server stays healthy', async () => {
    for (const [control, facility, field] of [['X\u0000Y', 'FN1', '10'], ['N2', 'F\u0000N', '4']] as const) {
      const out = await receiveHl7(server.services, [msh(facility, 'ADT^A04^ADT_A01', control), pid('FN1', 'NMRN1')].join('\r'), 'http');
      expect(out.status).toBe('rejected');
      expect(msa(out.ack)).toMatch(/^MSA\|AR\|/);
      expect(err(out.ack)).toContain(`MSH^1^${field}^102`);
      expect(out.ack).not.toContain('\u0000');
    }
    expect((await receiveHl7(server.services, [msh('FN1', 'ADT^A04^ADT_A01', 'N4'), pid('FN1', 'NMRN1')].join('\r'), 'http')).status).toBe('processed');
  });

  it('training and debugging messages (MSH-11 T, D) are refused with AR 202; P is applied', async () => {
    for (const p of ['T', 'D']) {
      const out = await receiveHl7(server.services, [msh('FT1', 'ADT^A04^ADT_A01', `T-${p}`, p), 'EVN|A04', pid('FT1', `TMRN-${p}`)].join('\r'), 'mllp');
      expect(msa(out.ack)).toMatch(new RegExp(`^MSA\\|AR\\|T-${p}\\|unsupported processing id`));
      expect(err(out.ack)).toContain('MSH^1^11^202');
      expect(await countOf('Patient', `TMRN-${p}`)).toBe(0);
    }
    expect((await receiveHl7(server.services, [msh('FT1', 'ADT^A04^ADT_A01', 'T-P', 'P'), 'EVN|A04', pid('FT1', 'TMRN-P')].join('\r'), 'mllp')).status).toBe('processed');
  });

  it('a failed message is filed under its person: opt-out clears its body, and a resend after the purge is AA without data', async () => {
    const registrar = await userWithToken(server, { username: `reg-${kind}`, role: 'registrar' });
    await receiveHl7(server.services, [msh('FP1', 'ADT^A04^ADT_A01', 'P0'), 'EVN|A04', pid('FP1', 'PMRN1')].join('\r'), 'mllp');
    const { patientId, personId } = await patientOf(server, 'FP1', 'PMRN1');
    // A dispense of an order never received fails (AE); its body still holds the person's (antiretroviral) medication.
    const bad = [msh('FP1', 'RDS^O13^RDS_O13', 'P1'), pid('FP1', 'PMRN1'), 'ORC|RE|PORD1^EHR', 'RXD|1|49702022818^Biktarvy^NDC|20260302|30|TAB'].join('\r');
    const out = await receiveHl7(server.services, bad, 'mllp');
    expect(out.status).toBe('error');
    expect(await row('P1')).toMatchObject({ person_ids: [personId], has_raw: true });
    // verify-purge does not pass while a filed body remains.
    await run(db(), sql`insert into person_privacy (person_id, opted_out) values (${personId}, true) on conflict (person_id) do update set opted_out = true`);
    expect((await verifyPurge(db(), personId)).tables.find((t) => t.table === 'ingest_messages')?.violations).toBeGreaterThan(0);
    await run(db(), sql`update person_privacy set opted_out = false where person_id = ${personId}`);
    expect((await consent(server, registrar, patientId, 'opt-out')).status).toBeLessThan(300);
    expect(await row('P1')).toMatchObject({ status: 'purged', has_raw: false });
    // (Only the inbox is asserted: other tables are other suites' concern.)
    expect((await verifyPurge(db(), personId)).tables.find((t) => t.table === 'ingest_messages')).toMatchObject({ violations: 0 });
    const resend = await receiveHl7(server.services, bad, 'mllp');
    expect(msa(resend.ack)).toMatch(/^MSA\|AA\|P1/);
    expect(await row('P1')).toMatchObject({ status: 'purged', has_raw: false });
    expect(await purgeRawForPerson(db(), personId)).toBe(0);
  });

  it('crash recovery processes every received row, page after page; a stuck one shows in the error queue', async () => {
    const old = new Date(Date.now() - 10 * 60_000).toISOString();
    for (let i = 0; i < 520; i++) {
      const raw = [msh('FR1', 'ADT^A04^ADT_A01', `R${i}`), 'EVN|A04', pid('FR1', `RMRN${i % 3}`)].join('\r');
      await run(db(), sql`insert into ingest_messages (id, received_at, channel, sender, message_type, control_id, status, raw, raw_sealed)
        values (${`rec-${kind}-${String(i).padStart(4, '0')}`}, ${old}, 'mllp', 'FR1', 'ADT^A04', ${`R${i}`}, 'received', ${server.services.auth.fieldCrypto.encrypt(raw)}, true)`);
    }
    expect((await errorQueue(db(), 1000)).filter((m) => m.sender === 'FR1' && m.status === 'received').length).toBe(520);
    expect(await recoverPending(server.services)).toBe(520);
    const left = await run<{ n: number }>(db(), sql`select count(*)::int as n from ingest_messages where sender = 'FR1' and status <> 'processed'`);
    expect(left[0].n).toBe(0);
  });
});
