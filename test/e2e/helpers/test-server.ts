/** Starts the real Katahdin server (demo data, temp data dir, random ports) and captures its JSON log lines. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { startServer } from '../../../src/server.ts';

const ROOT = resolve(import.meta.dirname, '../../..');

export interface TestServer {
  url: string;
  close(): Promise<void>;
  /** Every log record the server wrote so far (parsed pino JSON). */
  logs(): Record<string, unknown>[];
  /** The newest one-time sign-up code logged for this username (demo delivery). */
  oneTimeCode(username: string): string | undefined;
  /** The demo TOTP secret of an MFA user, taken from the otpauth URI the server logs at first start. */
  totpSecret(username: string): string | undefined;
  /** The MLLP port the server listens on. */
  mllpPort?: number;
}

/** Builds web/dist (the server serves it) so the tests always run the current sources; KATAHDIN_E2E_NO_BUILD=1 reuses a build. */
export function ensureWebBuilt(): void {
  if (process.env.KATAHDIN_E2E_NO_BUILD === '1' && existsSync(join(ROOT, 'web/dist/index.html'))) return;
  // vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
  const r = spawnSync('npm', ['run', 'build:web', '--silent'], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
  if (r.status !== 0) throw new Error('npm run build:web failed');
}

function captureStream(lines: Record<string, unknown>[]): Writable {
  let partial = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) {
        try {
          lines.push(JSON.parse(p) as Record<string, unknown>);
        } catch {
          lines.push({ msg: p });
        }
      }
      done();
    },
  });
}

function findString(records: Record<string, unknown>[], pick: (r: Record<string, unknown>) => unknown): string | undefined {
  for (let i = records.length - 1; i >= 0; i--) {
    const v = pick(records[i]);
    if (typeof v === 'string' && v) return v;
  }
  return undefined;
}

export async function startTestServer(): Promise<TestServer> {
  ensureWebBuilt();
  const dataDir = mkdtempSync(join(tmpdir(), 'kat-e2e-'));
  const lines: Record<string, unknown>[] = [];
  const server = await startServer({
    config: { port: 0, mllpPort: 0, dataDir, demo: true, logLevel: 'info' },
    logStream: captureStream(lines),
  });
  return {
    url: server.url,
    logs: () => lines,
    oneTimeCode: (username) => findString(lines, (r) => (r.username === username ? r.oneTimeCode : undefined)),
    mllpPort: server.mllpPort,
    totpSecret: (username) => {
      const uri = findString(lines, (r) => (r.username === username ? r.otpauth : undefined));
      return uri ? new URL(uri).searchParams.get('secret') ?? undefined : undefined;
    },
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
