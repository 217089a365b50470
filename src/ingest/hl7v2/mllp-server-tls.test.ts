import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { frame, MllpFramer } from './mllp-framer.ts';
import { startMllpServer } from './mllp-server.ts';
import { hasOpenssl, selfSigned } from '../../../test/support/certificates.ts';


const available = hasOpenssl();
if (!available) console.warn('openssl absent: skipping MLLP TLS test');

describe.skipIf(!available)('MLLP over TLS', () => {
  it('accepts a client certificate, reports its CN to the handler and ACKs', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mllp-tls-'));
    const server = selfSigned(dir, 'server', '127.0.0.1');
    const client = selfSigned(dir, 'client', 'lab-feed-1');
    const seen: (string | undefined)[] = [];
    const s = await startMllpServer({
      host: '127.0.0.1', port: 0, idleTimeoutMs: 5000, maxMessageBytes: 10_000,
      tls: { key: server.key, cert: server.cert, ca: client.cert, requestCert: true },
      logger: { info: () => {}, warn: () => {}, error: () => {} },
      handler: async (_raw, meta) => {
        seen.push(meta.tlsPeerCN);
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
      expect(ack).toContain('MSA|AA|T1');
      expect(seen).toEqual(['lab-feed-1']);
    } finally {
      await s.close();
    }
  });
});
