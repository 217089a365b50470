import { Hl7Context } from '@medplum/core';
import { escapeHl7 } from './escape.ts';
import type { Hl7Error, Hl7Warning, MessageHeader } from './types.ts';

export type AckCode = 'AA' | 'AE' | 'AR';

/** The sender facts an ACK echoes; each may be absent when the incoming MSH is broken. */
export interface AckEcho {
  sendingApplication?: string;
  sendingFacility?: string;
  receivingApplication?: string;
  receivingFacility?: string;
  triggerEvent?: string;
  controlId?: string;
  processingId?: string;
  version?: string;
}

export interface AckInput {
  ackCode: AckCode;
  echo: AckEcho;
  error?: Hl7Error;
  /** Time stamped into MSH-7 (injected so ACKs are reproducible in tests). */
  now: Date;
  /** MSH-10 of the ACK itself. */
  ackControlId: string;
  /** Optional MSA-3 text for AA. */
  text?: string;
  /** Problems that did not stop an accepted message: one ERR each, severity W (HL7 allows them with AA). */
  warnings?: Hl7Warning[];
}

const STD = new Hl7Context();

const DEFAULT_TEXT: Record<AckCode, string> = { AA: 'Message accepted', AE: 'Application error', AR: 'Application reject' };

function hdText(ns: string, uid: string, type: string): string {
  return [ns, uid, type].map((x) => escapeHl7(x, STD)).join('^').replace(/\^+$/, '');
}

/** Echo facts from a successfully parsed header. */
export function echoFromHeader(h: Partial<MessageHeader>): AckEcho {
  const text = (x?: { namespace: string; universalId: string; universalIdType: string }) => (x ? hdText(x.namespace, x.universalId, x.universalIdType) : '');
  return {
    sendingApplication: text(h.sendingApplication),
    sendingFacility: text(h.sendingFacility),
    receivingApplication: text(h.receivingApplication),
    receivingFacility: text(h.receivingFacility),
    triggerEvent: h.triggerEvent,
    controlId: h.controlId,
    processingId: h.processingId,
    version: h.version,
  };
}

/**
 * Best-effort echo from raw text whose MSH did not parse: assumes `|` and `^` when MSH-1/MSH-2
 * are unusable, so the sender still gets an ACK quoting its control id where one can be found.
 */
export function echoFromRaw(raw: string): AckEcho {
  // Control characters (a NUL) are never echoed: the message was refused for them.
  const first = (raw.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)[0] ?? '').replace(/[\x00-\x1F\x7F]/g, '');
  if (!first.startsWith('MSH')) return {};
  const fs = /^[^A-Za-z0-9 ]$/.test(first.charAt(3)) ? first.charAt(3) : '|';
  const fields = ['MSH', ...first.slice(4).split(fs)];
  const enc = fields[1] ?? '';
  const cs = enc.length >= 1 && enc.charAt(0) !== fs && /^[^A-Za-z0-9 ]$/.test(enc.charAt(0)) ? enc.charAt(0) : '^';
  const get = (n: number): string => fields[n - 1] ?? '';
  const hdOf = (n: number): string => {
    const [a = '', b = '', c = ''] = get(n).split(cs);
    return hdText(a, b, c);
  };
  const comp = (n: number, c: number): string => escapeHl7(get(n).split(cs)[c - 1] ?? '', STD).slice(0, 199);
  return {
    sendingApplication: hdOf(3),
    sendingFacility: hdOf(4),
    receivingApplication: hdOf(5),
    receivingFacility: hdOf(6),
    triggerEvent: comp(9, 2).slice(0, 3),
    controlId: comp(10, 1),
    processingId: comp(11, 1).slice(0, 1),
    version: comp(12, 1).slice(0, 10),
  };
}

/** HL7 TS in UTC with an explicit offset (Medplum's formatter omits it). */
function hl7Utc(d: Date): string {
  return `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}+0000`;
}

function errSegment(e: Hl7Warning, severity: 'E' | 'W'): string {
  const loc = e.location;
  const seg = loc?.segment ?? '';
  const seq = loc?.sequence !== undefined ? String(loc.sequence) : '';
  const field = loc?.field !== undefined ? String(loc.field) : '';
  const comp = loc?.component !== undefined ? String(loc.component) : '';
  const reason = escapeHl7(e.reason, STD).replace(/&/g, ' ');
  const code = `${e.code}^${reason}^HL70357`;
  // ERR-1 (ELD, v2.1–2.4) and ERR-2/3/4 (ERL, CWE, severity: v2.5+) so every version can read it.
  const eld = `${seg}^${seq}^${field}^${e.code}&${reason}&HL70357`;
  const erl = [seg, seq, field, '', comp].join('^').replace(/\^+$/, '');
  return ['ERR', eld, erl, code, severity].join('|');
}

/** Builds an original-mode ACK in ER7 (CR-separated), always with standard delimiters. */
export function buildAck(input: AckInput): string {
  const e = input.echo;
  const version = e.version && /^2\.\d/.test(e.version) ? e.version : '2.5.1';
  const type = e.triggerEvent ? `ACK^${e.triggerEvent}^ACK` : 'ACK';
  const processing = e.processingId && /^[DPT]$/.test(e.processingId) ? e.processingId : 'P';
  const msh = ['MSH', '^~\\&', e.receivingApplication ?? '', e.receivingFacility ?? '', e.sendingApplication ?? '', e.sendingFacility ?? '',
    hl7Utc(input.now), '', type, input.ackControlId, processing, version].join('|');
  const text = escapeHl7(input.error?.reason ?? input.text ?? DEFAULT_TEXT[input.ackCode], STD);
  const msa = ['MSA', input.ackCode, e.controlId ?? '', text].join('|');
  const errs = input.error ? [errSegment(input.error, 'E')] : (input.warnings ?? []).map((w) => errSegment(w, 'W'));
  return [msh, msa, ...errs].join('\r');
}
