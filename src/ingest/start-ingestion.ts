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
 * Finishes any message committed but not processed before a crash, then listens for MLLP
 * (port MLLP_PORT; TLS with the HTTP certificate when configured; optional address allow-list).
 */
export async function startIngestion(s: Services, log: FastifyBaseLogger): Promise<IngestionHandle> {
  const pending = await pendingMessages(s.db, s.auth.fieldCrypto);
  for (const m of pending) await processInboxMessage(s, m);
  if (pending.length) log.info({ recovered: pending.length }, 'processed messages received before the last shutdown');
  const { config } = s;
  const tls = config.tls ? { key: readFileSync(config.tls.keyFile), cert: readFileSync(config.tls.certFile), ...(config.tls.caFile ? { ca: readFileSync(config.tls.caFile), requestCert: true } : {}) } : undefined;
  const server = await startMllpServer({
    host: config.host,
    port: config.mllpPort,
    tls,
    idleTimeoutMs: config.mllpIdleTimeoutMs,
    maxMessageBytes: config.mllpMaxMessageBytes,
    allowedAddresses: config.mllpAllowedAddresses.length ? config.mllpAllowedAddresses : undefined,
    handler: async (raw) => (await receiveHl7(s, raw, 'mllp')).ack,
    logger: log,
  });
  return { mllpPort: server.port, close: () => server.close() };
}
