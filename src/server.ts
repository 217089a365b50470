import { createServer } from 'node:net';
import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createApp } from './http/app.ts';
import { registerRoutes } from './http/routes/index.ts';
import { buildServices, openDatabase, type Services } from './services.ts';
import { loadDemoData } from './demo/load-demo.ts';
import { startIngestion, type IngestionHandle } from './ingest/start-ingestion.ts';
import { startCheckpoints } from './audit/checkpoint-schedule.ts';
import { startNotificationWorker, type NotificationWorker } from './notify/notification-worker.ts';
import { IndexBaseMismatch, prepareSearchIndex } from './store/search/index-state.ts';
import { startStatisticsMaintenance, type StatisticsMaintenance } from './store/statistics-maintenance.ts';
import { serverRunning, startOperatorSocket } from './operator-socket.ts';

export interface StartOptions {
  /** Overrides on top of the environment (tests: port 0, temp dataDir…). */
  config?: Partial<Config>;
  env?: Record<string, string | undefined>;
  logStream?: DestinationStream;
}

export interface RunningServer {
  url: string;
  port: number;
  mllpPort?: number;
  app: FastifyInstance;
  services: Services;
  close(): Promise<void>;
}

/** Opens the database, migrates, loads demo data when asked, and serves HTTP and MLLP until `close`. */
export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const config: Config = { ...loadConfig(opts.env ?? process.env), ...opts.config };
  if (opts.config?.publicUrl) config.publicUrlDerived = false;
  if (config.port === 0) {
    // Token issuer and audience are the public URL, so a random port is chosen before anything is built.
    config.port = await freePort(config.host);
    if (!opts.config?.publicUrl) config.publicUrl = `${config.tls ? 'https' : 'http'}://${config.host}:${config.port}`;
  }
  if (!config.databaseUrl && (await serverRunning(config.dataDir))) {
    throw new ConfigError(`another Katahdin server is already using ${config.dataDir} (the embedded database allows one process)`);
  }
  const app = createApp(config, opts.logStream);
  const db = await openDatabase(config, app.log);
  let ingestion: IngestionHandle | undefined;
  let checkpoints: { close(): Promise<void> } | undefined;
  let notifications: NotificationWorker | undefined;
  let statistics: StatisticsMaintenance | undefined;
  try {
    const services = await buildServices(config, db);
    // Before anything is served: a search must not answer from an index built for another FHIR base, or by an older
    // extraction, while it is rebuilt (the rebuild logs its progress and resumes after a restart).
    await prepareSearchIndex(db, { base: services.fhirBase, log: app.log, followAddress: config.publicUrlDerived === true }).catch((err: unknown) => {
      throw err instanceof IndexBaseMismatch ? new ConfigError(err.message) : err;
    });
    if (config.demo) await loadDemoData(services, app.log);
    await registerRoutes(app, services);
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `${config.tls ? 'https' : 'http'}://${config.host}:${port}`;
    ingestion = await startIngestion(services, app.log);
    const operator = await startOperatorSocket(config.dataDir, services.auth);
    checkpoints = await startCheckpoints(db, join(config.dataDir, 'keys'), config.auditCheckpointMinutes, app.log);
    statistics = startStatisticsMaintenance(db, { log: app.log });
    notifications = startNotificationWorker({
      db, gate: services.gate, records: services.records, notifier: services.notifier, log: app.log,
      clientContext: (clientId) => services.auth.clientContext(clientId),
    });
    app.log.info({ url, mllpPort: ingestion.mllpPort, database: db.dialect }, 'Katahdin is running');
    return {
      url,
      port,
      mllpPort: ingestion.mllpPort,
      app,
      services,
      async close() {
        operator.close();
        await ingestion?.close();
        await app.close();
        await notifications?.stop();
        await statistics?.stop();
        await checkpoints?.close();
        await db.close();
      },
    };
  } catch (err) {
    await ingestion?.close().catch(() => undefined);
    await notifications?.stop().catch(() => undefined);
    await statistics?.stop().catch(() => undefined);
    await app.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw err;
  }
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
