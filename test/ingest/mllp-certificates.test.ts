import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/access/context.ts';
import { frame, MllpFramer } from '../../src/ingest/hl7v2/mllp-framer.ts';
import { receiveHl7 } from '../../src/ingest/hl7v2-pipeline.ts';
import { getMessage } from '../../src/ingest/inbox.ts';
import { retryInboxMessage } from '../../src/ingest/reprocess.ts';
import { FACILITY_SYSTEM, senderContext } from '../../src/ingest/sender-context.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { ackOf, MllpClient } from '../../bench/ingest/mllp-client.ts';
import { hasOpenssl, selfSigned } from '../support/certificates.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const available = hasOpenssl();
if (!available) console.warn('openssl absent: skipping the MLLP client certificate tests');

const adt = (facility: string, control: string, mrn: string) => [
  `MSH|^~\\&|LIS|${facility}|KAT|HIE|20260301090000-0500||ADT^A04^ADT_A01|${control}|P|2.5.1`, 'EVN|A04',
  `PID|1||${mrn}^^^${facility}^MR||CERTPATIENT^ALICE||19700101|F`,
].join('\r');

type Pem = { key: Buffer; cert: Buffer };

/** Sends each message on one mutual-TLS connection made with `client`, one after the other; their ACKs. */
async function sendOverTls(port: number, client: Pem, server: Pem, messages: string[]): Promise<string[]> {
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, key: client.key, cert: client.cert, ca: server.cert }, () => resolve(s));
    s.once('error', reject);
  });
  const framer = new MllpFramer(1_000_000);
  const acks: string[] = [];
  try {
    for (const m of messages) {
      acks.push(await new Promise<string>((resolve, reject) => {
        const onData = (d: Buffer) => {
          for (const e of framer.push(d)) if (e.type === 'message') { socket.off('data', onData); resolve(e.payload.toString()); }
        };
        socket.on('data', onData);
        socket.once('error', reject);
        socket.write(frame(m));
      }));
    }
  } finally {
    socket.destroy();
  }
  return acks;
}

async function organizations(server: TestServer, facility: string): Promise<number> {
  const found = await server.services.gate.run(systemContext('test'), { action: 'search' }, (scope) =>
    scope.searchType('Organization', [['identifier', `${FACILITY_SYSTEM}|${facility}`]], false));
  return found.matches.length;
}

async function patientsWithMrn(server: TestServer, mrn: string): Promise<number> {
  const rows = await run<{ n: number }>(server.services.db, sql`select count(*)::int as n from resources where resource_type = 'Patient' and content::text like ${`%${mrn}%`}`);
  return rows[0].n;
}

async function inboxRow(server: TestServer, sender: string, control: string) {
  const [row] = await run<{ id: string; status: string; reason: string; error_location: string }>(server.services.db,
    sql`select id, status, reason, error_location from ingest_messages where sender = ${sender} and control_id = ${control}`);
  return row;
}

describe.skipIf(!available).each(await databaseKinds())('MLLP client certificates bound to facilities (%s)', (kind) => {
  let server: TestServer;
  let dir: string;
  const pem: Record<string, Pem> = {};

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mllp-certs-'));
    const serverCert = selfSigned(dir, 'server', '127.0.0.1');
    pem.server = serverCert;
    pem.lab = selfSigned(dir, 'lab', 'CERTLAB');
    pem.other = selfSigned(dir, 'other', 'OTHERFAC');
    pem.hub = selfSigned(dir, 'hub', 'hub-feed');
    const caFile = path.join(dir, 'senders.pem');
    writeFileSync(caFile, Buffer.concat([pem.lab.cert, pem.other.cert, pem.hub.cert]));
    server = await startTestServer(kind, {
      tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, caFile },
      mllpCertFacilities: new Map([['hub-feed', ['HUBFAC1', 'HUBFAC2']]]),
    });
  }, 240_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('accepts a facility the certificate names (its CN) and registers it', async () => {
    const [ack] = await sendOverTls(server.mllpPort!, pem.lab, pem.server, [adt('CERTLAB', 'C-1', 'LAB-MRN-1')]);
    expect(ackOf(ack)).toMatchObject({ code: 'AA', controlId: 'C-1' });
    expect(await organizations(server, 'CERTLAB')).toBe(1);
    expect(await patientsWithMrn(server, 'LAB-MRN-1')).toBe(1);
  }, 120_000);

  it('refuses a facility the certificate does not name: AR with ERR at MSH-4, the message kept, nothing applied, even on retry', async () => {
    const [ack] = await sendOverTls(server.mllpPort!, pem.lab, pem.server, [adt('OTHERFAC', 'C-2', 'SPOOF-MRN-2')]);
    expect(ackOf(ack)).toMatchObject({ code: 'AR', controlId: 'C-2' });
    expect(ackOf(ack).err).toBe('ERR|MSH^1^4^207&client certificate not authorized for this sending facility&HL70357|MSH^1^4|207^client certificate not authorized for this sending facility^HL70357|E');

    const row = await inboxRow(server, 'cert-refused:CERTLAB|OTHERFAC', 'C-2');
    expect(row).toMatchObject({ status: 'rejected', error_location: 'MSH-4' });
    expect(row.reason).toMatch(/^207 client certificate not authorized/);
    expect((await getMessage(server.services.db, server.services.auth.fieldCrypto, row.id))?.raw).toContain('SPOOF-MRN-2');
    expect(await organizations(server, 'OTHERFAC')).toBe(0);
    expect(await patientsWithMrn(server, 'SPOOF-MRN-2')).toBe(0);

    // Crash recovery and an administrator's retry run the stored message again: it stays refused.
    expect(await retryInboxMessage(server.services, row.id)).toMatchObject({ status: 'rejected' });
    expect(await patientsWithMrn(server, 'SPOOF-MRN-2')).toBe(0);
    for (const line of server.logs) expect(line).not.toMatch(/SPOOF-MRN-2|CERTPATIENT/);
  }, 120_000);

  it('does not let a refused copy answer for the facility: its own certificate then sends the same control id', async () => {
    const [ack] = await sendOverTls(server.mllpPort!, pem.other, pem.server, [adt('OTHERFAC', 'C-2', 'OTHER-MRN-2')]);
    expect(ackOf(ack)).toMatchObject({ code: 'AA', controlId: 'C-2' });
    expect(await patientsWithMrn(server, 'OTHER-MRN-2')).toBe(1);
    expect(await organizations(server, 'OTHERFAC')).toBe(1);
  }, 120_000);

  it('lets a certificate listed in MLLP_CERT_FACILITIES send for exactly the facilities listed', async () => {
    const acks = await sendOverTls(server.mllpPort!, pem.hub, pem.server, [
      adt('HUBFAC1', 'H-1', 'HUB-MRN-1'), adt('HUBFAC2', 'H-2', 'HUB-MRN-2'), adt('hub-feed', 'H-3', 'HUB-MRN-3'), adt('CERTLAB', 'H-4', 'HUB-MRN-4'),
    ]);
    expect(acks.map((a) => ackOf(a).code)).toEqual(['AA', 'AA', 'AR', 'AR']);
    expect(await patientsWithMrn(server, 'HUB-MRN-3')).toBe(0);
    expect(await patientsWithMrn(server, 'HUB-MRN-4')).toBe(0);
  }, 120_000);
});

describe.each(await databaseKinds())('MLLP_REGISTER_UNKNOWN_FACILITIES=false (%s)', (kind) => {
  let server: TestServer;
  let client: MllpClient;

  beforeAll(async () => {
    server = await startTestServer(kind, { mllpRegisterUnknownFacilities: false });
    client = await MllpClient.connect(server.mllpPort!);
    await senderContext(server.services, 'KNOWNFAC', 'test');
  }, 240_000);
  afterAll(async () => {
    client?.close();
    await server?.stop();
  }, 60_000);

  it('refuses a facility without an Organization over MLLP (AR 204 at MSH-4), keeps the message, and takes it once the facility is registered', async () => {
    const ack = ackOf(await client.send(adt('NEWFAC', 'R-1', 'NEW-MRN-1')));
    expect(ack).toMatchObject({ code: 'AR', controlId: 'R-1' });
    expect(ack.err).toMatch(/^ERR\|MSH\^1\^4\^204&unknown sending facility/);
    const row = await inboxRow(server, 'NEWFAC', 'R-1');
    expect(row).toMatchObject({ status: 'rejected', error_location: 'MSH-4' });
    expect((await getMessage(server.services.db, server.services.auth.fieldCrypto, row.id))?.raw).toContain('NEW-MRN-1');
    expect(await organizations(server, 'NEWFAC')).toBe(0);
    expect(await patientsWithMrn(server, 'NEW-MRN-1')).toBe(0);

    expect(ackOf(await client.send(adt('KNOWNFAC', 'R-2', 'KNOWN-MRN-2'))).code).toBe('AA');
    expect(await patientsWithMrn(server, 'KNOWN-MRN-2')).toBe(1);

    // An administrator registers the facility and retries the message.
    await senderContext(server.services, 'NEWFAC', 'test');
    expect(await retryInboxMessage(server.services, row.id)).toMatchObject({ status: 'processed' });
    expect(await patientsWithMrn(server, 'NEW-MRN-1')).toBe(1);
  }, 120_000);

  it('still registers a facility for an operator\'s import', async () => {
    expect((await receiveHl7(server.services, adt('IMPORTFAC', 'R-3', 'IMPORT-MRN-3'), 'import')).status).toBe('processed');
    expect(await organizations(server, 'IMPORTFAC')).toBe(1);
  }, 120_000);
});
