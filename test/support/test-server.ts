import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
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

/**
 * `katahdin <args>` as a separate process on the test server's database, with its exit code and output (stdout, then
 * stderr). PostgreSQL only: an in-memory PGlite cannot be shared with another process.
 */
export async function runCli(server: TestServer, ...args: string[]): Promise<{ code: number; out: string }> {
  return promisify(execFile)('node', ['bin/katahdin.mjs', ...args], {
    env: { ...process.env, DATABASE_URL: server.services.config.databaseUrl, DATA_DIR: server.services.config.dataDir }, timeout: 120_000,
  }).then((r) => ({ code: 0, out: r.stdout }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }));
}
