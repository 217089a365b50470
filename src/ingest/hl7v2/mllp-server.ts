import net from 'node:net';
import tls from 'node:tls';
import { buildAck, echoFromRaw } from './ack.ts';
import { decodeHl7Bytes } from './decode.ts';
import { frame, MllpFramer } from './mllp-framer.ts';
import { Hl7ErrorCode } from './types.ts';

/** The names of a verified client certificate (mutual TLS) that can stand for a sender. */
export interface ClientCertificate {
  /** Subject CN. */
  cn?: string;
  /** DNS and URI subject alternative names. */
  altNames: string[];
}

export interface MllpMeta {
  remoteAddress: string;
  /** Absent on a plain connection. */
  clientCertificate?: ClientCertificate;
}

/** Pino-compatible subset; messages and fields carry no message content (PHI). */
export interface MllpLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface MllpServerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  tls?: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer; requestCert?: boolean };
  idleTimeoutMs: number;
  maxMessageBytes: number;
  /** Exact remote addresses allowed to connect; absent = everyone. */
  allowedAddresses?: string[];
  /** Stores/applies the message and returns the ACK (ER7). Called in order per connection. */
  handler: (raw: string, meta: MllpMeta) => Promise<string>;
  logger: MllpLogger;
  /** Clock for NAKs built by the server itself. */
  now?: () => Date;
}

export interface MllpServer {
  port: number;
  close(): Promise<void>;
}

function normaliseAddress(a: string | undefined): string {
  return (a ?? '').replace(/^::ffff:/, '');
}

function serverNak(raw: string, now: Date, code: Hl7ErrorCode, reason: string, ackCode: 'AE' | 'AR'): string {
  return buildAck({ ackCode, echo: echoFromRaw(raw), error: { code, ackCode, reason }, now, ackControlId: `K${now.getTime()}` });
}

interface Connection {
  socket: net.Socket;
  /** Tail of this connection's in-order processing chain. */
  chain: Promise<void>;
  inFlight: number;
  closing: boolean;
}

/** One entry of Node's `subjectaltname` (`DNS:a, URI:b, IP Address:c`); values with separators in them are JSON strings. */
const ALT_NAME = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/y;

function altNames(text = ''): string[] {
  const names: string[] = [];
  ALT_NAME.lastIndex = 0;
  for (let m = ALT_NAME.exec(text); m; m = ALT_NAME.exec(text)) {
    if (m[1] === 'DNS' || m[1] === 'URI') names.push(m[2].startsWith('"') ? (JSON.parse(m[2]) as string) : m[2]);
  }
  return names;
}

function clientCertificate(socket: net.Socket): ClientCertificate | undefined {
  if (!(socket instanceof tls.TLSSocket) || !socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  const cn = cert.subject?.CN;
  return { cn: Array.isArray(cn) ? cn[0] : cn, altNames: altNames(cert.subjectaltname) };
}

interface ServerCtx {
  opts: MllpServerOptions;
  now: () => Date;
  connections: Set<Connection>;
}

/** Ends a socket after flushing what was written; resolves even if the peer is already gone. */
function endSocket(socket: net.Socket, last?: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed || !socket.writable) return resolve();
    socket.end(last ?? Buffer.alloc(0), () => resolve());
  });
}

/** Calls the handler for one message and writes its ACK (or an AE NAK when the handler fails). */
async function handleOne(ctx: ServerCtx, socket: net.Socket, raw: string, meta: MllpMeta): Promise<void> {
  let ack: string;
  try {
    ack = await ctx.opts.handler(raw, meta);
  } catch (err) {
    ctx.opts.logger.error({ remoteAddress: meta.remoteAddress, err: (err as Error).name }, 'mllp handler failed');
    ack = serverNak(raw, ctx.now(), Hl7ErrorCode.ApplicationInternalError, 'message could not be stored; resend', 'AE');
  }
  if (!socket.destroyed && socket.writable) socket.write(frame(ack));
}

/** Wires one accepted socket: framing, strict per-connection ordering, idle timeout, size limit. */
function serveConnection(ctx: ServerCtx, socket: net.Socket, remoteAddress: string): void {
  const { opts } = ctx;
  const conn: Connection = { socket, chain: Promise.resolve(), inFlight: 0, closing: false };
  ctx.connections.add(conn);
  const meta: MllpMeta = { remoteAddress, clientCertificate: clientCertificate(socket) };
  const framer = new MllpFramer(opts.maxMessageBytes);
  socket.setTimeout(opts.idleTimeoutMs);
  socket.on('timeout', () => {
    if (conn.inFlight > 0) return;
    opts.logger.info({ remoteAddress }, 'mllp connection idle: closing');
    socket.end();
  });
  socket.on('error', (err) => opts.logger.warn({ remoteAddress, code: (err as NodeJS.ErrnoException).code }, 'mllp socket error'));
  // Forget the connection only once its in-flight handlers are done, so close() still waits for them.
  socket.on('close', () => void conn.chain.finally(() => ctx.connections.delete(conn)));
  socket.on('data', (chunk: Buffer) => {
    if (conn.closing) return;
    for (const ev of framer.push(chunk)) {
      if (ev.type === 'oversize') {
        opts.logger.warn({ remoteAddress, limit: opts.maxMessageBytes }, 'mllp message too large: closing');
        conn.closing = true;
        const nak = serverNak('', ctx.now(), Hl7ErrorCode.ApplicationInternalError, `message exceeds ${opts.maxMessageBytes} bytes`, 'AR');
        conn.chain = conn.chain.then(() => endSocket(socket, frame(nak)));
        return;
      }
      const raw = decodeHl7Bytes(ev.payload);
      conn.inFlight += 1;
      conn.chain = conn.chain.then(() => handleOne(ctx, socket, raw, meta)).finally(() => { conn.inFlight -= 1; });
    }
  });
}

/** Starts an MLLP listener (plain TCP or TLS). Messages on one connection are handled strictly in order. */
export async function startMllpServer(opts: MllpServerOptions): Promise<MllpServer> {
  const ctx: ServerCtx = { opts, now: opts.now ?? (() => new Date()), connections: new Set() };
  const allowed = opts.allowedAddresses ? new Set(opts.allowedAddresses.map(normaliseAddress)) : undefined;
  const onSocket = (socket: net.Socket): void => {
    const remoteAddress = normaliseAddress(socket.remoteAddress);
    if (allowed && !allowed.has(remoteAddress)) {
      opts.logger.warn({ remoteAddress }, 'mllp connection refused: address not allowed');
      socket.destroy();
      return;
    }
    serveConnection(ctx, socket, remoteAddress);
  };
  const mutual = opts.tls?.requestCert ?? false;
  const server = opts.tls
    ? tls.createServer({ key: opts.tls.key, cert: opts.tls.cert, ca: opts.tls.ca, requestCert: mutual, rejectUnauthorized: mutual }, onSocket)
    : net.createServer(onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  opts.logger.info({ host: opts.host, port, tls: !!opts.tls }, 'mllp listening');

  const close = async (): Promise<void> => {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    // Stop reading new frames, let in-flight handlers finish and their ACKs go out, then hang up.
    await Promise.all([...ctx.connections].map(async (c) => {
      c.closing = true;
      c.socket.pause();
      await c.chain;
      await endSocket(c.socket);
      c.socket.destroy();
    }));
    await stopped;
  };
  return { port, close };
}
