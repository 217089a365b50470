import net from 'node:net';
import { frame, MllpFramer } from '../../src/ingest/hl7v2/mllp-framer.ts';

/**
 * A minimal MLLP sender for tests and benchmarks: ACK frames come back in order on one connection, so each
 * `send` waits for the next ACK. `write` sends raw bytes (split frames, several frames per packet).
 */
export class MllpClient {
  private readonly acks: string[] = [];
  private readonly waiting: Array<(ack: string) => void> = [];
  private readonly framer = new MllpFramer(64 * 1024 * 1024);
  private closedError: Error | undefined;
  private readonly failWaiting: Array<(err: Error) => void> = [];

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      for (const ev of this.framer.push(chunk)) if (ev.type === 'message') this.deliver(ev.payload.toString('utf8'));
    });
    const fail = (err: Error) => {
      this.closedError ??= err;
      for (const f of this.failWaiting.splice(0)) f(this.closedError);
      this.waiting.length = 0;
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<MllpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new MllpClient(socket)));
      socket.once('error', reject);
    });
  }

  private deliver(ack: string): void {
    const next = this.waiting.shift();
    this.failWaiting.shift();
    if (next) next(ack);
    else this.acks.push(ack);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next ACK received on this connection (rejects on timeout or when the connection drops). */
  nextAck(timeoutMs = 60_000): Promise<string> {
    const ready = this.acks.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ACK within the timeout')), timeoutMs);
      this.waiting.push((ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
      this.failWaiting.push((err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  send(er7: string, timeoutMs?: number): Promise<string> {
    this.write(frame(er7));
    return this.nextAck(timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** MSA-1 and MSA-2 of an ACK. */
export function ackOf(ack: string): { code: string; controlId: string; err?: string } {
  const segments = ack.split('\r');
  const msa = segments.find((s) => s.startsWith('MSA|'))?.split('|') ?? [];
  const err = segments.find((s) => s.startsWith('ERR|'));
  return { code: msa[1] ?? '', controlId: msa[2] ?? '', ...(err ? { err } : {}) };
}
