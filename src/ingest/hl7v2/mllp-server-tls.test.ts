import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { frame, MllpFramer } from './mllp-framer.ts';
import { startMllpServer, type MllpMeta } from './mllp-server.ts';
import { hasOpenssl, selfSigned } from '../../../test/support/certificates.ts';


const available = hasOpenssl();
if (!available) console.warn('openssl absent: skipping MLLP TLS test');

/** `selfSigned` with DNS/URI subject alternative names besides the address. */
function withAltNames(dir: string, name: string, cn: string, altNames: string): { key: Buffer; cert: Buffer } {
  const [keyFile, certFile] = [path.join(dir, `${name}.key`), path.join(dir, `${name}.crt`)];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=IP:127.0.0.1,${altNames}`], { stdio: 'ignore' });
  return { key: readFileSync(keyFile), cert: readFileSync(certFile) };
}

/** Starts a mutual-TLS listener trusting `client`, sends one message with it and returns the ACK and what the handler saw. */
async function sendWith(client: { key: Buffer; cert: Buffer }, server: { key: Buffer; cert: Buffer }): Promise<{ ack: string; seen: MllpMeta[] }> {
  const seen: MllpMeta[] = [];
  const s = await startMllpServer({
    host: '127.0.0.1', port: 0, idleTimeoutMs: 5000, maxMessageBytes: 10_000,
    tls: { key: server.key, cert: server.cert, ca: client.cert, requestCert: true },
    logger: { info: () => {}, warn: () => {}, error: () => {} },
    handler: async (_raw, meta) => {
      seen.push(meta);
      return 'MSH|^~\\&|K|H|A|F|20260101||ACK|1|P|2.5.1\rMSA|AA|T1';
    },
  });
  try {
    const ack = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: s.port, key: client.key, cert: client.cert, ca: server.cert }, () => {
        socket.write(frame('MSH|^~\\&|A|F|K|H|20260101||ADT^A01|T1|P|2.5.1'));
      });
      const framer = new MllpFramer(100_000);
      socket.on('data', (d) => {
        for (const e of framer.push(d)) if (e.type === 'message') { resolve(e.payload.toString()); socket.end(); }
      });
      socket.on('error', reject);
    });
    return { ack, seen };
  } finally {
    await s.close();
  }
}

describe.skipIf(!available)('MLLP over TLS', () => {
  it('accepts a client certificate, reports its CN to the handler and ACKs', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mllp-tls-'));
    const { ack, seen } = await sendWith(selfSigned(dir, 'client', 'lab-feed-1'), selfSigned(dir, 'server', '127.0.0.1'));
    expect(ack).toContain('MSA|AA|T1');
    expect(seen.map((m) => m.clientCertificate)).toEqual([{ cn: 'lab-feed-1', altNames: [] }]);
  });

  it('reports the DNS and URI subject alternative names of the client certificate (the names it may send as)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mllp-tls-'));
    const client = withAltNames(dir, 'client', 'lab-feed-2', 'DNS:lab.example.org,URI:urn:oid:1.2.3,email:feeds@example.org');
    const { seen } = await sendWith(client, selfSigned(dir, 'server', '127.0.0.1'));
    expect(seen.map((m) => m.clientCertificate)).toEqual([{ cn: 'lab-feed-2', altNames: ['lab.example.org', 'urn:oid:1.2.3'] }]);
  });
});
