import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../../../test/support/test-server.ts';
import { receiveHl7 } from '../hl7v2-pipeline.ts';
import { processMessage } from './corpus-report.ts';
import { frame, MllpFramer } from './mllp-framer.ts';
import { startMllpServer } from './mllp-server.ts';
import { parseHl7 } from './parse.ts';
import { Hl7ErrorCode } from './types.ts';

const SEEDS = [
  ['MSH|^~\\&|EPIC|MMC|KAT|HIE|20260110||ADT^A01^ADT_A01|C1|P|2.5.1', 'PID|1||M1^^^MMC^MR||DOE^JANE||19800215|F', 'PV1|1|I|ICU^1^A|||||||||||||||||V1', 'AL1|1|DA|70618^Penicillin^RXNORM', 'DG1|1||I21^MI^I10', 'NK1|1|DOE^JOHN|SPO', 'IN1|1|P1|X|Anthem'],
  ['MSH|^~\\&|LIS|MMC|KAT|HIE|20260110||ORU^R01|C2|P|2.5.1', 'PID|1||M1^^^MMC^MR', 'OBR|1|P1|F1|24323-8^CMP^LN|||20260110', 'OBX|1|NM|2345-7^Glu^LN||182|mg/dL|70-99|H|||F', 'OBX|2|SN|2160-0^Cr^LN||<^0.5|mg/dL', 'OBX|3|TX|X^Y^L||text\\.br\\more', 'OBX|4|ED|P^R^L||^AP^PDF^Base64^JVBE'],
  ['MSH|^~\\&|IIS|MMC|KAT|HIE|20260110||VXU^V04|C3|P|2.5.1', 'PID|1||M1^^^MMC^MR', 'ORC|RE||F5', 'RXA|0|1|20260110||08^HepB^CVX|0.5|mL||00||||||L1', 'RXR|IM^^HL70162|LD'],
  ['MSH|^~\\&|RX|MMC|KAT|HIE|20260110||RDE^O11|C4|P|2.5.1', 'PID|1||M1^^^MMC^MR', 'ORC|NW|O1', 'RXE|^BID|197361^Amlo^RXNORM|5||mg'],
  ['MSH|^~\\&|DOC|MMC|KAT|HIE|20260110||MDM^T02|C5|P|2.5.1', 'PID|1||M1^^^MMC^MR', 'TXA|1|DS|TX|20260110', 'OBX|1|TX|X^Y^L||hello'],
  ['MSH|^~\\&|EPIC|MMC|KAT|HIE|20260110||ADT^A40^ADT_A39|C6|P|2.5.1', 'PID|1||M1^^^MMC^MR', 'MRG|M0^^^MMC^MR'],
].map((s) => s.join('\r'));

const CODES = new Set<number>(Object.values(Hl7ErrorCode));

/** Runs the pure pipeline and checks the ACK is well formed; any throw fails the property. */
function checkPipeline(raw: string): void {
  const o = processMessage('fuzz', raw);
  const [msh, msa, err] = o.ack.split('\r');
  expect(msh.startsWith('MSH|^~\\&|')).toBe(true);
  expect(msa).toMatch(/^MSA\|(AA|AE|AR)\|/);
  if (o.result.kind === 'rejected' || o.result.kind === 'unparsed') {
    expect(CODES.has(o.result.error.code)).toBe(true);
    expect(err).toMatch(/^ERR\|/);
  }
  // The ACK itself is clean ER7: only known segments, one per line, whatever the input held.
  expect(o.ack.split('\r').every((l) => /^(MSH|MSA|ERR)\|/.test(l))).toBe(true);
  const reparsed = parseHl7(o.ack);
  if (reparsed.ok) expect(reparsed.message.header.messageType).toBe('ACK');
}

const seed = fc.constantFrom(...SEEDS);

const mutation = fc.oneof(
  // truncated anywhere
  fc.tuple(seed, fc.nat()).map(([s, n]) => s.slice(0, n % (s.length + 1))),
  // one delimiter swapped for another character everywhere
  fc.tuple(seed, fc.constantFrom('|', '^', '~', '\\', '&', '\r'), fc.string({ minLength: 1, maxLength: 1 })).map(([s, from, to]) => s.split(from).join(to)),
  // random bytes spliced in
  fc.tuple(seed, fc.nat(), fc.uint8Array({ maxLength: 40 })).map(([s, at, bytes]) => { const i = at % (s.length + 1); return s.slice(0, i) + Buffer.from(bytes).toString('latin1') + s.slice(i); }),
  // a huge field
  fc.tuple(seed, fc.nat(), fc.integer({ min: 10_000, max: 300_000 })).map(([s, at, n]) => { const i = at % (s.length + 1); return s.slice(0, i) + 'X'.repeat(n) + s.slice(i); }),
  // segments dropped or repeated
  fc.tuple(seed, fc.array(fc.nat(), { maxLength: 4 })).map(([s, picks]) => { const segs = s.split('\r'); return [segs[0], ...picks.map((p) => segs[p % segs.length])].join('\r'); }),
  // pure garbage
  fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.string({ maxLength: 400 }).map((s) => `MSH${s}`),
);

describe('fuzz: mutated HL7 never throws, always yields an ACK', () => {
  it('seeds themselves map', () => {
    for (const s of SEEDS) expect(processMessage('seed', s).ack.split('\r')[1]).toMatch(/^MSA\|AA\|/);
  });

  it('property: parse → map → ACK survives truncation, wrong delimiters, garbage and huge fields', () => {
    fc.assert(fc.property(mutation, (raw) => checkPipeline(raw)), { numRuns: 1500 });
  });

  it('property: the MLLP server answers garbage with NAKs and stays healthy for the next sender', async () => {
    const server = await startMllpServer({
      host: '127.0.0.1', port: 0, idleTimeoutMs: 2000, maxMessageBytes: 200_000,
      logger: { info: () => {}, warn: () => {}, error: () => {} },
      handler: async (raw) => processMessage('mllp', raw).ack,
    });
    try {
      await fc.assert(fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (batch) => {
        // Oversize frames end the connection by design, so the batch may get fewer ACKs than frames.
        const naks = await exchange(server.port, batch.map((m) => frame(m)), batch.length);
        for (const ack of naks) expect(ack).toMatch(/\rMSA\|A[AER]\|/);
        const [ok] = await exchange(server.port, [frame(SEEDS[0])], 1);
        expect(ok).toMatch(/\rMSA\|AA\|C1\|/);
      }), { numRuns: 25 });
    } finally {
      await server.close();
    }
  });
});

/** Sends frames on one connection and resolves with the ACKs (or what arrived before the server hung up). */
function exchange(port: number, frames: Buffer[], expected: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const framer = new MllpFramer(10_000_000);
    const acks: string[] = [];
    socket.on('data', (d) => {
      for (const e of framer.push(d)) if (e.type === 'message') acks.push(e.payload.toString('utf8'));
      if (acks.length >= expected) socket.end(() => resolve(acks));
    });
    socket.on('close', () => resolve(acks));
    socket.on('error', reject);
    socket.write(Buffer.concat(frames));
  });
}

describe('fuzz through the stored pipeline: receiveHl7 answers an ACK for every mutation, control characters included', () => {
  it('property: no throw, a well-formed MSA, and the server still accepts a good message', async () => {
    const server = await startTestServer('pglite');
    try {
      // Control characters spliced into the header, where they reach the inbox's sender and control id columns.
      const controls = fc.tuple(seed, fc.integer({ min: 4, max: 60 }), fc.constantFrom('\u0000', '\u0001', '\u001b', '\u007f', '\u0000\u0000')).map(([s, at, c]) => s.slice(0, at) + c + s.slice(at));
      await fc.assert(fc.asyncProperty(fc.oneof(mutation, controls), async (raw) => {
        const out = await receiveHl7(server.services, raw, 'http');
        expect(out.ack.split('\r')[1]).toMatch(/^MSA\|(AA|AE|AR)\|/);
        expect(out.ack).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
      }), { numRuns: 60, seed: 4242 });
      const ok = await receiveHl7(server.services, SEEDS[0].replace('|C1|', '|FUZZ-OK|'), 'http');
      expect(ok.ack.split('\r')[1]).toMatch(/^MSA\|AA\|FUZZ-OK/);
    } finally {
      await server.stop();
    }
  }, 120_000);
});
