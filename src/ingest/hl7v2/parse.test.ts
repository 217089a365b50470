import { describe, expect, it } from 'vitest';
import { val, reps } from './fields.ts';
import { normaliseEr7, parseHl7 } from './parse.ts';
import { splitMessages } from './split-batch.ts';

const ADT = [
  'MSH|^~\\&|EPIC|MAINE MED^1.2.3.4^ISO|KATAHDIN|HIE|20260110083000-0500||ADT^A01^ADT_A01|CTRL1|P|2.5.1',
  'PID|1||MRN1^^^MMC^MR~MRN2^^^OTHER^MR||O\\S\\BRIEN^MARY^ANN||19800215|F',
  'ZPI|custom|data',
].join('\r');

function ok(raw: string) {
  const r = parseHl7(raw);
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code} ${r.error.reason}`);
  return r.message;
}

describe('parseHl7', () => {
  it('extracts the header facts', () => {
    const h = ok(ADT).header;
    expect(h).toMatchObject({
      sendingApplication: { namespace: 'EPIC' },
      sendingFacility: { namespace: 'MAINE MED', universalId: '1.2.3.4', universalIdType: 'ISO' },
      receivingApplication: { namespace: 'KATAHDIN' },
      receivingFacility: { namespace: 'HIE' },
      messageType: 'ADT', triggerEvent: 'A01', messageStructure: 'ADT_A01',
      controlId: 'CTRL1', processingId: 'P', version: '2.5.1', timestamp: '20260110083000-0500', facilityKey: 'MAINE MED',
    });
  });

  it('treats LF, CRLF, a BOM and trailing blanks like CR', () => {
    const lf = ok(`\uFEFF${ADT.replaceAll('\r', '  \n')}\n\n`);
    const crlf = ok(ADT.replaceAll('\r', '\r\n'));
    expect(lf.er7).toBe(ADT);
    expect(crlf.er7).toBe(ADT);
    expect(normaliseEr7('MSH|x \r\nPID|1\t\n')).toBe('MSH|x\rPID|1');
  });

  it('decodes escapes, repetitions and subcomponents and keeps Z-segments', () => {
    const m = ok(ADT).message;
    const pid = m.getSegment('PID')!;
    expect(val(pid, 5, 1)).toBe("O^BRIEN");
    expect(reps(pid, 3).map((c) => c(1))).toEqual(['MRN1', 'MRN2']);
    expect(m.getSegment('ZPI')).toBeDefined();
    expect(val(m.getSegment('ZPI')!, 2)).toBe('data');
  });

  it('honours non-standard encoding characters from MSH-1/MSH-2', () => {
    const raw = 'MSH#$*@%#APP#FAC#R#R#2026##ADT$A08#C9#P#2.3\rPID#1##ID1$$$AUTH%9.9%ISO$MR*ID2##A@F@B$C';
    const m = ok(raw);
    expect(m.header).toMatchObject({ messageType: 'ADT', triggerEvent: 'A08', controlId: 'C9', version: '2.3' });
    const pid = m.message.getSegment('PID')!;
    expect(reps(pid, 3).map((c) => c(1))).toEqual(['ID1', 'ID2']);
    expect(val(pid, 3, 4, 2)).toBe('9.9');
    expect(val(pid, 5, 1)).toBe('A#B');
  });

  it.each(['2.1', '2.2', '2.3', '2.3.1', '2.4', '2.5', '2.5.1', '2.6', '2.7', '2.7.1', '2.8'])('accepts version %s', (v) => {
    expect(ok(ADT.replace('|2.5.1', `|${v}`)).header.version).toBe(v);
  });

  it('accepts a doubled escape character in MSH-2 (export quirk) and re-joins broken lines', () => {
    const m = ok('MSH|^~\\\\&|A|F|||2026||ORU^R01|1|P|2.6\nOBR|1||F1|X^Newborn screening\npanel^LN');
    expect(val(m.message.getSegment('OBR')!, 4, 2)).toBe('Newborn screening\npanel');
  });

  it.each([
    ['', 100, 'MSH', undefined],
    ['PID|1', 100, 'MSH', undefined],
    ['MSH|', 101, 'MSH', 2],
    ['MSH||A|F|R|R|2026||ADT^A01|1|P|2.5', 101, 'MSH', 2],
    ['MSH|^~\\&|A|F|R|R|2026||^A01|1|P|2.5', 101, 'MSH', 9],
    ['MSH|^~\\&|A|F|R|R|2026||ADT^A01||P|2.5', 101, 'MSH', 10],
    ['MSH|^~\\&|A|F|R|R|2026||ADT^A01|1|P|', 101, 'MSH', 12],
    ['MSH|^~\\&|A|F|R|R|2026||ADT^A01|1|P|3.0', 203, 'MSH', 12],
    ['MSH|^~\\&|||R|R|2026||ADT^A01|1|P|2.5', 101, 'MSH', 4],
    ['MSH|^~\\&|A|F|R|R|2026||ADT^A01|1|P|2.5\rMSH|^~\\&|A|F|R|R|2026||ADT^A01|2|P|2.5', 100, 'MSH', undefined],
  ])('rejects %j with code %i at %s-%s', (raw, code, segment, field) => {
    const r = parseHl7(raw);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(code);
    expect(r.error.location?.segment).toBe(segment);
    expect(r.error.location?.field).toBe(field);
    expect(r.error.ackCode).toBe('AR');
  });
});

describe('splitMessages', () => {
  it('splits batches, skips comments, blank lines and batch envelopes', () => {
    const text = '\uFEFF// comment\n/*\n * block\n */\nFHS|^~\\&\nBHS|^~\\&\nMSH|^~\\&|A\nPID|1\n\nMSH|^~\\&|B\rPID|2\r\nBTS|2\nFTS|1\n';
    expect(splitMessages(text)).toEqual(['MSH|^~\\&|A\rPID|1', 'MSH|^~\\&|B\rPID|2']);
    expect(splitMessages('')).toEqual([]);
  });
});
