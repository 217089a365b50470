import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CR, FS, frame, MllpFramer, VT, type FrameEvent } from './mllp-framer.ts';

const messages = (events: FrameEvent[]) => events.filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? e.payload.toString('utf8') : ''));

/** Splits a buffer at the given cut points. */
function chunk(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out;
}

// Payloads never contain VT, and FS only when not followed by CR (as in real ER7).
const payload = fc.string({ minLength: 0, maxLength: 300 }).map((s) => s.replace(/[\x0b\x1c]/g, ''));

describe('MllpFramer', () => {
  it('decodes split packets, several messages per packet and noise between frames', () => {
    const f = new MllpFramer(1000);
    expect(messages(f.push(Buffer.from([0x41, VT, 0x4d, 0x53])))).toEqual([]);
    expect(f.partial).toBe(true);
    expect(messages(f.push(Buffer.from([0x48, FS])))).toEqual([]);
    expect(messages(f.push(Buffer.concat([Buffer.from([CR]), Buffer.from('junk\r\n'), frame('A'), frame('B')])))).toEqual(['MSH', 'A', 'B']);
    expect(f.partial).toBe(false);
  });

  it('keeps an FS that is not followed by CR and restarts on a stray VT', () => {
    const f = new MllpFramer(1000);
    const buf = Buffer.from([VT, 0x61, FS, 0x62, FS, CR, VT, 0x78, VT, 0x79, FS, CR]);
    expect(messages(f.push(buf))).toEqual(['a\x1cb', 'y']);
  });

  it('reports oversize once and skips the rest of that frame', () => {
    const f = new MllpFramer(10);
    const events = f.push(Buffer.concat([frame('x'.repeat(25)), frame('ok')]));
    expect(events.map((e) => e.type)).toEqual(['oversize', 'message']);
    expect(messages(events)).toEqual(['ok']);
    const exact = new MllpFramer(10);
    expect(messages(exact.push(frame('y'.repeat(10))))).toEqual(['y'.repeat(10)]);
  });

  it('property: any chunking of a stream yields the same messages as one push', () => {
    fc.assert(
      fc.property(fc.array(payload, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), fc.string({ maxLength: 5 }), (msgs, cuts, noise) => {
        const cleanNoise = noise.replace(/[\x0b]/g, '');
        const stream = Buffer.concat(msgs.flatMap((m) => [Buffer.from(cleanNoise), frame(m)]));
        const f = new MllpFramer(1_000_000);
        const out = chunk(stream, cuts).flatMap((c) => messages(f.push(c)));
        expect(out).toEqual(msgs.map((m) => Buffer.from(m, 'utf8').toString('utf8')));
      }),
      { numRuns: 300 },
    );
  });
});
