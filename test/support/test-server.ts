import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startServer, type RunningServer } from '../../src/server.ts';
import type { Config } from '../../src/config.ts';
import { throwawaySchema } from './databases.ts';

export interface TestServer extends RunningServer {
  /** Every log line the server wrote (tests search it for PHI). */
  logs: string[];
  stop(): Promise<void>;
}

/** The real server on a random port, on a fresh PGlite data folder or a throwaway PostgreSQL schema. */
export async function startTestServer(kind: 'pglite' | 'postgres', overrides: Partial<Config> = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'katahdin-test-'));
  const schema = kind === 'postgres' ? await throwawaySchema() : undefined;
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const server = await startServer({
    env: {},
    logStream,
    config: { port: 0, mllpPort: 0, host: '127.0.0.1', dataDir, demo: false, logLevel: 'info', accessTokenSeconds: 3600, databaseUrl: schema?.url ?? 'memory://', ...overrides },
  });
  return {
    ...server,
    logs,
    async stop() {
      await server.close();
      await schema?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
