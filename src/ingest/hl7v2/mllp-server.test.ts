import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { frame, MllpFramer } from './mllp-framer.ts';
import { startMllpServer, type MllpServer, type MllpServerOptions } from './mllp-server.ts';

const silent = { info: () => {}, warn: () => {}, error: () => {} };
const msg = (id: string) => `MSH|^~\\&|A|F|K|H|20260101||ADT^A01|${id}|P|2.5.1\rPID|1||X^^^F^MR`;
const echoAck = async (raw: string) => `MSH|^~\\&|K|H|A|F|20260101||ACK|1|P|2.5.1\rMSA|AA|${/\|ADT\^A01\|([^|]*)/.exec(raw)?.[1] ?? ''}`;

let servers: MllpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function start(over: Partial<MllpServerOptions> = {}): Promise<MllpServer> {
  const s = await startMllpServer({ host: '127.0.0.1', port: 0, idleTimeoutMs: 5000, maxMessageBytes: 10_000, handler: echoAck, logger: silent, ...over });
  servers.push(s);
  return s;
}

/** A client that collects decoded ACKs. */
function client(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  const framer = new MllpFramer(1_000_000);
  const acks: string[] = [];
  const waiters: (() => void)[] = [];
  let closed = false;
  socket.on('data', (d) => {
    for (const e of framer.push(d)) if (e.type === 'message') acks.push(e.payload.toString());
    waiters.splice(0).forEach((w) => w());
  });
  socket.on('close', () => {
    closed = true;
    waiters.splice(0).forEach((w) => w());
  });
  socket.on('error', () => {});
  const until = async (pred: () => boolean) => {
    while (!pred()) await new Promise<void>((r) => waiters.push(r));
  };
  return { socket, acks, until, isClosed: () => closed };
}

const controlIds = (acks: string[]) => acks.map((a) => /MSA\|A.\|([^|\r]*)/.exec(a)?.[1]);

describe('MLLP server', () => {
  it('acknowledges messages split across packets and batched in one packet, in order', async () => {
    const s = await start();
    const c = client(s.port);
    const all = Buffer.concat([frame(msg('1')), frame(msg('2')), frame(msg('3'))]);
    c.socket.write(all.subarray(0, 7));
    await new Promise((r) => setTimeout(r, 20));
    c.socket.write(all.subarray(7));
    await c.until(() => c.acks.length === 3);
    expect(controlIds(c.acks)).toEqual(['1', '2', '3']);
    c.socket.destroy();
  });

  it('processes one connection in order even when handlers finish out of order; connections run concurrently', async () => {
    let active = 0;
    let maxActive = 0;
    const s = await start({
      handler: async (raw) => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        const id = /\|ADT\^A01\|([^|]*)/.exec(raw)?.[1] ?? '';
        await new Promise((r) => setTimeout(r, id.endsWith('a') ? 40 : 5));
        active -= 1;
        return echoAck(raw);
      },
    });
    const clients = [client(s.port), client(s.port), client(s.port)];
    clients.forEach((c, i) => c.socket.write(Buffer.concat([frame(msg(`${i}a`)), frame(msg(`${i}b`))])));
    await Promise.all(clients.map((c) => c.until(() => c.acks.length === 2)));
    clients.forEach((c, i) => expect(controlIds(c.acks)).toEqual([`${i}a`, `${i}b`]));
    expect(maxActive).toBeGreaterThan(1);
    clients.forEach((c) => c.socket.destroy());
  });

  it('answers AE when the handler throws', async () => {
    const s = await start({ handler: async () => { throw new Error('db down'); } });
    const c = client(s.port);
    c.socket.write(frame(msg('9')));
    await c.until(() => c.acks.length === 1);
    expect(c.acks[0]).toMatch(/MSA\|AE\|9\|/);
    expect(c.acks[0]).toContain('ERR|');
    c.socket.destroy();
  });

  it('NAKs and closes an oversize message', async () => {
    const s = await start({ maxMessageBytes: 100 });
    const c = client(s.port);
    c.socket.write(frame(msg('big') + 'x'.repeat(500)));
    await c.until(() => c.isClosed());
    expect(c.acks).toHaveLength(1);
    expect(c.acks[0]).toMatch(/MSA\|AR\|\|message exceeds 100 bytes/);
  });

  it('closes idle connections', async () => {
    const s = await start({ idleTimeoutMs: 50 });
    const c = client(s.port);
    await c.until(() => c.isClosed());
    expect(c.isClosed()).toBe(true);
  });

  it('refuses addresses outside the allow-list', async () => {
    const s = await start({ allowedAddresses: ['10.9.9.9'] });
    const c = client(s.port);
    c.socket.write(frame(msg('1')));
    await c.until(() => c.isClosed());
    expect(c.acks).toEqual([]);
    const ok = await start({ allowedAddresses: ['127.0.0.1'] });
    const c2 = client(ok.port);
    c2.socket.write(frame(msg('2')));
    await c2.until(() => c2.acks.length === 1);
    c2.socket.destroy();
  });

  it('graceful close waits for in-flight handlers and still sends their ACKs', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let started = false;
    const s = await startMllpServer({
      host: '127.0.0.1', port: 0, idleTimeoutMs: 5000, maxMessageBytes: 10_000, logger: silent,
      handler: async (raw) => { started = true; await gate; return echoAck(raw); },
    });
    const c = client(s.port);
    c.socket.write(frame(msg('slow')));
    while (!started) await new Promise((r) => setTimeout(r, 5));
    let closed = false;
    const closing = s.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(closed).toBe(false);
    release();
    await closing;
    await c.until(() => c.acks.length === 1 || c.isClosed());
    expect(controlIds(c.acks)).toEqual(['slow']);
  });
});
