/** MLLP framing bytes: <VT> message <FS><CR>. */
export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;

export type FrameEvent =
  | { type: 'message'; payload: Buffer }
  /** The frame being read passed the size limit; its remaining bytes are discarded up to its end block. */
  | { type: 'oversize'; bytes: number };

/**
 * Incremental MLLP decoder (pure: no I/O). Feed TCP chunks in arrival order; complete frames come out
 * in order. Bytes between frames are ignored; an FS not followed by CR is payload; a VT inside an
 * unterminated frame starts over (the broken frame is dropped).
 */
export class MllpFramer {
  private buf: Buffer = Buffer.alloc(4096);
  private len = 0;
  private inFrame = false;
  private pendingFs = false;
  private discarding = false;

  constructor(private readonly maxMessageBytes: number) {}

  /** True while part of a frame has been received (used for idle/close diagnostics). */
  get partial(): boolean {
    return this.inFrame;
  }

  push(chunk: Buffer): FrameEvent[] {
    const events: FrameEvent[] = [];
    for (const byte of chunk) {
      if (!this.inFrame) {
        if (byte === VT) this.start();
        continue;
      }
      if (this.pendingFs) {
        this.pendingFs = false;
        if (byte === CR) {
          this.finish(events);
          continue;
        }
        this.write(FS, events);
      }
      if (byte === FS) this.pendingFs = true;
      else if (byte === VT) this.start();
      else this.write(byte, events);
    }
    return events;
  }

  private start(): void {
    this.len = 0;
    this.inFrame = true;
    this.pendingFs = false;
    this.discarding = false;
  }

  private write(byte: number, events: FrameEvent[]): void {
    if (this.discarding) return;
    if (this.len >= this.maxMessageBytes) {
      events.push({ type: 'oversize', bytes: this.len + 1 });
      this.discarding = true;
      this.len = 0;
      return;
    }
    if (this.len === this.buf.length) {
      const bigger = Buffer.alloc(Math.min(this.buf.length * 2, this.maxMessageBytes + 1));
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = bigger;
    }
    this.buf[this.len++] = byte;
  }

  private finish(events: FrameEvent[]): void {
    if (!this.discarding) events.push({ type: 'message', payload: Buffer.from(this.buf.subarray(0, this.len)) });
    this.inFrame = false;
    this.discarding = false;
    this.len = 0;
  }
}

/** Wraps an ER7 string in an MLLP frame. */
export function frame(er7: string): Buffer {
  return Buffer.concat([Buffer.from([VT]), Buffer.from(er7, 'utf8'), Buffer.from([FS, CR])]);
}
