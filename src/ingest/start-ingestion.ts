import { readFileSync } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import type { Services } from '../services.ts';
import { startMllpServer } from './hl7v2/mllp-server.ts';
import { receiveHl7 } from './hl7v2-pipeline.ts';
import { pendingMessages } from './inbox.ts';
import { processInboxMessage } from './reprocess.ts';

export interface IngestionHandle {
  mllpPort?: number;
  close(): Promise<void>;
}

/**
 * Finishes every message committed but not processed before a crash (a page at a time until none is left), then
 * listens for MLLP (port MLLP_PORT; TLS with the HTTP certificate when configured, client certificates when a CA is,
 * each bound to the facilities it may send for; optional address allow-list).
 */
export async function startIngestion(s: Services, log: FastifyBaseLogger): Promise<IngestionHandle> {
  const recovered = await recoverPending(s);
  if (recovered) log.info({ recovered }, 'processed messages received before the last shutdown');
  const { config } = s;
  const tls = config.tls ? { key: readFileSync(config.tls.keyFile), cert: readFileSync(config.tls.certFile), ...(config.tls.caFile ? { ca: readFileSync(config.tls.caFile), requestCert: true } : {}) } : undefined;
  const server = await startMllpServer({
    host: config.host,
    port: config.mllpPort,
    tls,
    idleTimeoutMs: config.mllpIdleTimeoutMs,
    maxMessageBytes: config.mllpMaxMessageBytes,
    allowedAddresses: config.mllpAllowedAddresses.length ? config.mllpAllowedAddresses : undefined,
    handler: async (raw, meta) => (await receiveHl7(s, raw, 'mllp', undefined, meta.clientCertificate)).ack,
    logger: log,
  });
  return { mllpPort: server.port, close: () => server.close() };
}

/** Crash recovery: every `received` row, oldest first; the cursor moves past each page so a row that stays is not retried forever. */
export async function recoverPending(s: Services): Promise<number> {
  let count = 0;
  let after: { receivedAt: Date; id: string } | undefined;
  for (;;) {
    const page = await pendingMessages(s.db, s.auth.fieldCrypto, after);
    if (page.length === 0) return count;
    for (const m of page) await processInboxMessage(s, m);
    count += page.length;
    const last = page[page.length - 1];
    after = { receivedAt: new Date(last.received_at), id: last.id };
  }
}
