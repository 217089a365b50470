import { Hl7Context, Hl7Message, Hl7Segment } from '@medplum/core';
import { val } from './fields.ts';
import type { Hd, Hl7Error, Hl7ErrorLocation, MessageHeader, ParseResult } from './types.ts';
import { Hl7ErrorCode } from './types.ts';

const SUPPORTED_VERSION = /^2\.[1-8](\.\d+)?$/;
const SEGMENT_NAME = /^[A-Z][A-Z0-9]{2}$/;
const MAX_KEY = 199;
/** Control characters ER7 never carries as data (they are escaped): any in MSH; elsewhere any but TAB, which exporters leave in text. */
const MSH_CONTROL = /[\x00-\x1F\x7F]/;
const BODY_CONTROL = /[\x00-\x08\x0B-\x1F\x7F]/;

/** Normalises corpus and wire quirks: BOM, LF/CRLF/CR endings, trailing whitespace, blank lines. */
export function normaliseEr7(raw: string): string {
  return raw
    .replace(/^\uFEFF/, '')
    .split(/\r\n|\r|\n/)
    .map((line) => line.replace(/[ \t\f\v]+$/, ''))
    .filter((line) => line !== '')
    .join('\r');
}

function fail(code: Hl7ErrorCode, reason: string, location?: Hl7ErrorLocation, ackCode: 'AE' | 'AR' = 'AR'): ParseResult {
  return { ok: false, error: { code, ackCode, reason, location } };
}

/** Checks MSH-1/MSH-2 and returns the encoding context, or why it is unusable. */
function readEncoding(er7: string): Hl7Context | Hl7Error {
  const fieldSep = er7.charAt(3);
  const msh = { segment: 'MSH', sequence: 1 };
  if (fieldSep === '' || /[A-Za-z0-9\r\n ]/.test(fieldSep)) {
    return { code: Hl7ErrorCode.RequiredFieldMissing, ackCode: 'AR', reason: 'MSH-1 field separator missing or invalid', location: { ...msh, field: 1 } };
  }
  const msh2 = er7.slice(4).split(fieldSep)[0];
  // `^~\\&` (escape character doubled by a source-code string literal) is a common export quirk.
  const chars = [...(msh2.length === 5 && msh2[2] === msh2[3] ? msh2.slice(0, 3) + msh2.slice(4) : msh2)];
  // v2.7+ may add a fifth (truncation) character; fewer than 4 means a broken header.
  const distinct = new Set([fieldSep, ...chars]).size === chars.length + 1;
  if (chars.length < 4 || chars.length > 5 || !distinct || chars.some((c) => /[A-Za-z0-9\r ]/.test(c))) {
    return { code: Hl7ErrorCode.RequiredFieldMissing, ackCode: 'AR', reason: 'MSH-2 encoding characters missing or invalid', location: { ...msh, field: 2 } };
  }
  return new Hl7Context('\r', fieldSep, chars[0], chars[1], chars[2], chars[3]);
}

function hd(seg: Hl7Segment, field: number): Hd {
  return { namespace: val(seg, field, 1), universalId: val(seg, field, 2), universalIdType: val(seg, field, 3) };
}

/** Reads the MSH facts; lenient where senders commonly are (MSH-6, MSH-11 may be empty). */
export function readHeader(msh: Hl7Segment): MessageHeader {
  const sendingFacility = hd(msh, 4);
  const sendingApplication = hd(msh, 3);
  return {
    sendingApplication,
    sendingFacility,
    receivingApplication: hd(msh, 5),
    receivingFacility: hd(msh, 6),
    messageType: val(msh, 9, 1),
    triggerEvent: val(msh, 9, 2),
    messageStructure: val(msh, 9, 3),
    controlId: val(msh, 10, 1),
    processingId: val(msh, 11, 1),
    version: val(msh, 12, 1),
    timestamp: val(msh, 7, 1),
    facilityKey: sendingFacility.namespace || sendingFacility.universalId || sendingApplication.namespace,
  };
}

/** The field the sending facility's key was read from: MSH-4, or MSH-3 when MSH-4 is empty. */
export function facilityField(h: Pick<MessageHeader, 'sendingFacility'>): 3 | 4 {
  return h.sendingFacility.namespace || h.sendingFacility.universalId ? 4 : 3;
}

function checkHeader(h: MessageHeader): Hl7Error | undefined {
  const at = (field: number): Hl7ErrorLocation => ({ segment: 'MSH', sequence: 1, field });
  const missing = (field: number, what: string): Hl7Error => ({ code: Hl7ErrorCode.RequiredFieldMissing, ackCode: 'AR', reason: `${what} missing`, location: at(field) });
  if (!h.messageType) return missing(9, 'MSH-9 message type');
  if (!h.controlId) return missing(10, 'MSH-10 message control id');
  if (!h.facilityKey) return missing(4, 'MSH-4 sending facility (and MSH-3)');
  // They key the inbox (an index): HL7 bounds MSH-10 at 199 characters, an HD namespace or universal id at 199.
  const tooLong = (field: number, what: string): Hl7Error => ({ code: Hl7ErrorCode.DataType, ackCode: 'AR', reason: `${what} longer than ${MAX_KEY} characters`, location: at(field) });
  if (h.controlId.length > MAX_KEY) return tooLong(10, 'MSH-10 message control id');
  if (h.facilityKey.length > MAX_KEY) return tooLong(facilityField(h), 'sending facility');
  if (!h.version) return missing(12, 'MSH-12 version id');
  if (!SUPPORTED_VERSION.test(h.version)) {
    return { code: Hl7ErrorCode.UnsupportedVersionId, ackCode: 'AR', reason: 'MSH-12 version not supported (2.1 to 2.8)', location: at(12) };
  }
  return undefined;
}

/**
 * The first field holding a control character (a NUL can be neither stored nor answered as sent). Checked on the
 * text before anything is read from it, so no header value with such a character reaches the inbox or the ACK.
 */
function controlCharacter(lines: string[], fieldSep: string): Hl7Error | undefined {
  for (const [i, line] of lines.entries()) {
    const msh = i === 0;
    if (!(msh ? MSH_CONTROL : BODY_CONTROL).test(line)) continue;
    const fields = line.split(fieldSep);
    const index = fields.findIndex((f) => (msh ? MSH_CONTROL : BODY_CONTROL).test(f));
    // MSH-1 is the separator itself, so MSH field n is split element n - 1.
    const field = msh ? index + 1 : index;
    const segment = SEGMENT_NAME.test(fields[0]) ? fields[0] : 'UNK';
    return { code: Hl7ErrorCode.DataType, ackCode: 'AR', reason: `${segment}-${field} contains a control character`, location: { segment, sequence: i + 1, field } };
  }
  return undefined;
}

function checkSegments(segments: Hl7Segment[]): Hl7Error | undefined {
  for (let i = 1; i < segments.length; i++) {
    const name = segments[i].name;
    if (!SEGMENT_NAME.test(name)) {
      return { code: Hl7ErrorCode.SegmentSequence, ackCode: 'AR', reason: `segment ${i + 1} has an invalid segment id`, location: { segment: 'UNK', sequence: i + 1 } };
    }
    if (name === 'MSH') {
      return { code: Hl7ErrorCode.SegmentSequence, ackCode: 'AR', reason: 'more than one MSH segment in one message', location: { segment: 'MSH', sequence: 2 } };
    }
  }
  return undefined;
}

/**
 * A line that does not start like a segment (`XYZ|`) is the continuation of a field broken over
 * several lines by an exporter; it is re-attached to its segment with an escaped line break.
 */
function joinContinuations(lines: string[], ctx: Hl7Context): string[] {
  const out: string[] = [];
  const segmentStart = (line: string) => SEGMENT_NAME.test(line.slice(0, 3)) && (line.length === 3 || line.charAt(3) === ctx.fieldSeparator);
  for (const line of lines) {
    if (out.length && !segmentStart(line)) out[out.length - 1] += `${ctx.escapeCharacter}.br${ctx.escapeCharacter}${line}`;
    else out.push(line);
  }
  return out;
}

/** Parses one ER7 message. Never throws: every failure is a typed `Hl7Error`. */
export function parseHl7(raw: string): ParseResult {
  const er7 = normaliseEr7(raw);
  if (!er7.startsWith('MSH')) {
    return fail(Hl7ErrorCode.SegmentSequence, 'message does not start with an MSH segment', { segment: 'MSH', sequence: 1 });
  }
  const ctx = readEncoding(er7);
  if (!(ctx instanceof Hl7Context)) return { ok: false, error: ctx };
  const lines = er7.split('\r');
  const control = controlCharacter(lines, ctx.fieldSeparator);
  if (control) return { ok: false, error: control };
  try {
    const segments = joinContinuations(lines, ctx).map((line) => Hl7Segment.parse(line, ctx));
    const message = new Hl7Message(segments, ctx);
    const header = readHeader(segments[0]);
    const problem = checkHeader(header) ?? checkSegments(segments);
    // A header value that is itself the problem (too long for the inbox key) is not passed on.
    if (problem) return { ok: false, error: problem, ...(problem.code === Hl7ErrorCode.DataType ? {} : { partialHeader: header }) };
    return { ok: true, message: { header, er7, message } };
  } catch {
    return fail(Hl7ErrorCode.ApplicationInternalError, 'message could not be parsed', undefined, 'AE');
  }
}
