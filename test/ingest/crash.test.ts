import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/services.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { frame } from '../../src/ingest/hl7v2/mllp-framer.ts';
import { ackOf, MllpClient } from '../../bench/ingest/mllp-client.ts';
import { adtA01, oruR01 } from '../../bench/ingest/messages.ts';

const N = 60;
const KILL_AFTER_ACKS = 25;
/** Messages written ahead of their ACKs, so some are in flight (stored or not) when the process dies. */
const WINDOW = 6;

const messages = Array.from({ length: N }, (_, i) => {
  const id = `CRASH-${i}`;
  const mrn = `CRMRN-${i}`;
  return { id, mrn, kind: i % 2 ? 'ORU' : 'ADT', er7: i % 2 ? oruR01(id, mrn, 'CRASH') : adtA01(id, mrn, 'CRASH') };
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited early with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('server did not start in time');
}

function startChild(env: Record<string, string>): ChildProcess {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ['bin/katahdin.mjs', 'serve'], { env: { ...inherited, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', () => undefined);
  return child;
}

const exited = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

/** Sends messages pipelined (WINDOW ahead) on one connection; records each ACK; stops at the first connection error. */
async function stream(port: number, batch: typeof messages, acked: Map<string, string>, onAck?: (n: number) => void): Promise<void> {
  const client = await MllpClient.connect(port);
  let next = 0;
  const sendNext = () => {
    if (next < batch.length) client.write(frame(batch[next++].er7));
  };
  for (let i = 0; i < WINDOW; i++) sendNext();
  try {
    for (let received = 0; received < batch.length; received++) {
      const ack = ackOf(await client.nextAck(120_000));
      acked.set(ack.controlId, ack.code);
      onAck?.(acked.size);
      sendNext();
    }
  } catch {
    // the server died mid-stream: whatever was not acknowledged is resent after the restart
  } finally {
    client.close();
  }
}

describe('crash during an MLLP stream (real process, SIGKILL, restart on the same data folder)', () => {
  let dataDir: string | undefined;
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('loses no acknowledged message and applies none twice', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'katahdin-crash-'));
    const env = { DATA_DIR: dataDir, PORT: String(await freePort()), MLLP_PORT: String(await freePort()), DEMO: 'false', LOG_LEVEL: 'warn', HOST: '127.0.0.1' };
    const mllpPort = Number(env.MLLP_PORT);
    const acked = new Map<string, string>();

    const first = startChild(env);
    children.push(first);
    await waitForPort(mllpPort, first, 600_000);
    await stream(mllpPort, messages, acked, (n) => {
      if (n === KILL_AFTER_ACKS) first.kill('SIGKILL');
    });
    await exited(first);
    const ackedBeforeCrash = new Set(acked.keys());
    expect(ackedBeforeCrash.size).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    expect(ackedBeforeCrash.size).toBeLessThan(N);

    const second = startChild(env);
    children.push(second);
    await waitForPort(mllpPort, second, 600_000);
    await stream(mllpPort, messages.filter((m) => !ackedBeforeCrash.has(m.id)), acked);
    expect(acked.size).toBe(N);
    expect([...acked.values()].every((code) => code === 'AA')).toBe(true);
    second.kill('SIGTERM');
    await exited(second);

    const db = await openDatabase(loadConfig({ DATA_DIR: dataDir }));
    try {
      const count = async (type: string, value: string) =>
        (await run<{ n: number }>(db, sql`select count(*)::int as n from resources where resource_type = ${type} and not deleted and content->'identifier' @> ${JSON.stringify([{ value }])}::jsonb`))[0].n;
      for (const m of messages) {
        expect(await count('Patient', m.mrn), `Patient of ${m.id}`).toBe(1);
        if (m.kind === 'ADT') expect(await count('Encounter', `V${m.mrn}`), `Encounter of ${m.id}`).toBe(1);
        else expect(await count('DiagnosticReport', `F${m.id}`), `DiagnosticReport of ${m.id}`).toBe(1);
      }
      const inbox = await run<{ control_id: string; status: string }>(db, sql`select control_id, status from ingest_messages where control_id like 'CRASH-%'`);
      expect(inbox).toHaveLength(N);
      expect(inbox.every((r) => r.status === 'processed')).toBe(true);
      const [{ n: provenances }] = await run<{ n: number }>(db, sql`select count(*)::int as n from resources where resource_type = 'Provenance'`);
      expect(provenances).toBe(N);
      const [{ n: observations }] = await run<{ n: number }>(db, sql`select count(*)::int as n from resources where resource_type = 'Observation'`);
      expect(observations).toBe(N);
    } finally {
      await db.close();
    }
  }, 1_800_000);
});
