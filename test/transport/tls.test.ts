/**
 * privacy-rules §7, protection in transit: the real server refuses to start in production without TLS, and with a
 * certificate it speaks only TLS on both HTTP (HTTPS, with HSTS) and MLLP.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.ts';
import { MllpFramer, frame } from '../../src/ingest/hl7v2/mllp-framer.ts';
import { startServer } from '../../src/server.ts';
import { hasOpenssl, selfSigned } from '../support/certificates.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { adt, EVE } from '../privacy/support.ts';

const kinds = await databaseKinds();

const available = hasOpenssl();
if (!available) console.warn('openssl absent: skipping the HTTPS/MLLP-over-TLS server test');

it('in production without TLS and without TLS_TERMINATED_UPSTREAM, the server does not start', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'katahdin-prod-'));
  try {
    await expect(startServer({ env: { NODE_ENV: 'production', DATA_DIR: dataDir, DATABASE_URL: 'memory://' } })).rejects.toThrow(ConfigError);
    expect(readdirSync(dataDir), 'nothing was created before the refusal').toEqual([]);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

describe.skipIf(!available).each(kinds)('TLS on HTTP and MLLP on %s', (kind) => {
  let server: TestServer;
  let cert: Buffer;
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'katahdin-tls-'));
    const made = selfSigned(dir, 'server', '127.0.0.1');
    cert = made.cert;
    server = await startTestServer(kind, { production: true, tls: { certFile: made.certFile, keyFile: made.keyFile } });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS with HSTS, and a plain-HTTP request to the same port gets no answer', async () => {
    expect(server.url).toMatch(/^https:\/\//);
    const res = await new Promise<{ status: number; hsts?: string }>((resolve, reject) => {
      httpsGet(`${server.url}/healthz`, { ca: cert }, (r) => {
        r.resume();
        resolve({ status: r.statusCode ?? 0, hsts: r.headers['strict-transport-security'] as string | undefined });
      }).on('error', reject);
    });
    expect(res).toEqual({ status: 200, hsts: expect.stringMatching(/max-age=\d+/) });
    const plain = await new Promise<string>((resolve) => {
      httpGet(`http://127.0.0.1:${server.port}/healthz`, (r) => {
        r.resume();
        resolve(`answered ${r.statusCode}`);
      }).on('error', () => resolve('refused'));
    });
    expect(plain).not.toBe('answered 200');
  });

  it('accepts HL7 v2 over MLLP with TLS, and not in plain text', async () => {
    const message = adt(EVE, 'TLS', 'TLS-1', { event: 'A04', visit: 'V-TLS' });
    const ack = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: server.mllpPort!, ca: cert }, () => socket.write(frame(message)));
      const framer = new MllpFramer(100_000);
      socket.on('data', (d) => {
        for (const e of framer.push(d)) {
          if (e.type !== 'message') continue;
          resolve(e.payload.toString());
          socket.end();
        }
      });
      socket.on('error', reject);
    });
    expect(ack).toMatch(/MSA\|AA/);
    const plain = await new Promise<string>((resolve) => {
      const socket = connect(server.mllpPort!, '127.0.0.1', () => socket.write(frame(adt(EVE, 'TLS', 'TLS-2', { event: 'A04' }))));
      socket.on('data', (d) => resolve(d.toString('latin1').includes('MSA|') ? 'acknowledged' : 'no ACK'));
      socket.on('close', () => resolve('closed'));
      socket.on('error', () => resolve('refused'));
    });
    expect(plain).not.toBe('acknowledged');
  });
});
