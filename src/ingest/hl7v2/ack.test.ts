import { describe, expect, it } from 'vitest';
import { buildAck, echoFromHeader, echoFromRaw } from './ack.ts';
import { parseHl7 } from './parse.ts';

const now = new Date('2026-03-01T12:00:00Z');
const RAW = 'MSH|^~\\&|LAB|MMC^1.2.3^ISO|KAT|HIE|20260301||ORU^R01^ORU_R01|C123|P|2.5.1\rPID|1||M1^^^MMC^MR';

describe('buildAck', () => {
  it('acknowledges with AA, swapping sender and receiver and quoting the control id', () => {
    const parsed = parseHl7(RAW);
    if (!parsed.ok) throw new Error('parse');
    const ack = buildAck({ ackCode: 'AA', echo: echoFromHeader(parsed.message.header), now, ackControlId: 'A1' });
    const [msh, msa, extra] = ack.split('\r');
    expect(msh).toBe('MSH|^~\\&|KAT|HIE|LAB|MMC^1.2.3^ISO|20260301120000+0000||ACK^R01^ACK|A1|P|2.5.1');
    expect(msa).toBe('MSA|AA|C123|Message accepted');
    expect(extra).toBeUndefined();
    expect(parseHl7(ack).ok).toBe(true);
  });

  it('adds an ERR naming segment, field and the 0357 code on errors', () => {
    const ack = buildAck({
      ackCode: 'AE', echo: echoFromRaw(RAW), now, ackControlId: 'A2',
      error: { code: 102, ackCode: 'AE', reason: 'OBX-5 is not numeric | really', location: { segment: 'OBX', sequence: 3, field: 5 } },
    });
    const lines = ack.split('\r');
    expect(lines[1]).toBe('MSA|AE|C123|OBX-5 is not numeric \\F\\ really');
    expect(lines[2]).toBe('ERR|OBX^3^5^102&OBX-5 is not numeric \\F\\ really&HL70357|OBX^3^5|102^OBX-5 is not numeric \\F\\ really^HL70357|E');
  });

  it('keeps AA and adds one ERR of severity W per warning', () => {
    const ack = buildAck({
      ackCode: 'AA', echo: echoFromRaw(RAW), now, ackControlId: 'A3',
      warnings: [{ code: 102, reason: 'OBX 2 skipped: OBX-5 is not numeric', location: { segment: 'OBX', sequence: 2, field: 5 } }, { code: 207, reason: 'kept once' }],
    });
    const lines = ack.split('\r');
    expect(lines[1]).toBe('MSA|AA|C123|Message accepted');
    expect(lines.slice(2)).toEqual(['ERR|OBX^2^5^102&OBX 2 skipped: OBX-5 is not numeric&HL70357|OBX^2^5|102^OBX 2 skipped: OBX-5 is not numeric^HL70357|W', 'ERR|^^^207&kept once&HL70357||207^kept once^HL70357|W']);
    expect(parseHl7(ack).ok).toBe(true);
  });

  it('is buildable from a broken MSH with fallback delimiters', () => {
    const broken = 'MSH||App|Fac|Recv|RFac|2026||ORM^O01|CTL9|P|2.5.1';
    const r = parseHl7(broken);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const ack = buildAck({ ackCode: r.error.ackCode, echo: echoFromRaw(broken), error: r.error, now, ackControlId: 'A3' });
    expect(ack.split('\r')[1]).toMatch(/^MSA\|AR\|CTL9\|MSH-2/);
    expect(ack).toContain('ERR|MSH^1^2^101');
    expect(echoFromRaw('garbage')).toEqual({});
    const bare = buildAck({ ackCode: 'AR', echo: echoFromRaw(''), now, ackControlId: 'A4', error: { code: 100, ackCode: 'AR', reason: 'no MSH' } });
    expect(bare.split('\r')[0]).toBe('MSH|^~\\&|||||20260301120000+0000||ACK|A4|P|2.5.1');
  });
});
