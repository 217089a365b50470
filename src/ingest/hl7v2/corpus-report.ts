import { buildAck, echoFromHeader, echoFromRaw } from './ack.ts';
import { mapMessage, type MapResult } from './map/index.ts';
import { parseHl7 } from './parse.ts';
import type { Hl7Error } from './types.ts';

/** What happened to one corpus message (used by the corpus test and docs/INGESTION.md). */
export interface CorpusOutcome {
  key: string;
  /** `ADT^A01`, or `(unparseable)` when the MSH could not be read. */
  type: string;
  result: MapResult | { kind: 'unparsed'; error: Hl7Error };
  ack: string;
}

const NOW = new Date('2026-01-01T00:00:00Z');

/** Parse → map → ACK, the pure half of what the MLLP handler will do. */
export function processMessage(key: string, raw: string): CorpusOutcome {
  const parsed = parseHl7(raw);
  if (!parsed.ok) {
    const ack = buildAck({ ackCode: parsed.error.ackCode, echo: echoFromRaw(raw), error: parsed.error, now: NOW, ackControlId: 'T' });
    return { key, type: '(unparseable)', result: { kind: 'unparsed', error: parsed.error }, ack };
  }
  const h = parsed.message.header;
  const result = mapMessage(parsed.message, { now: NOW });
  const error = result.kind === 'rejected' ? result.error : undefined;
  const ack = buildAck({ ackCode: error?.ackCode ?? 'AA', echo: echoFromHeader(h), error, now: NOW, ackControlId: 'T' });
  return { key, type: `${h.messageType}^${h.triggerEvent}`, result, ack };
}

/** One line per message: accepted counts, or the rejection code and reason. */
export function outcomeLine(o: CorpusOutcome): string {
  const r = o.result;
  if (r.kind === 'rejected' || r.kind === 'unparsed') {
    const loc = r.error.location ? ` @${r.error.location.segment}${r.error.location.field ? `-${r.error.location.field}` : ''}` : '';
    return `${o.key} ${o.type} ${r.error.ackCode} ${r.error.code}${loc} ${r.error.reason}`;
  }
  const counts = Object.entries(r.summary.counts).sort(([a], [b]) => a.localeCompare(b)).map(([t, n]) => `${t}:${n}`).join(' ');
  return `${o.key} ${o.type} ${r.kind} ${counts}`;
}

/** Markdown table: per message type, messages accepted/rejected and resources produced per type. */
export function typeTable(outcomes: CorpusOutcome[]): string {
  const rows = new Map<string, { n: number; ok: number; rejected: Map<string, number>; counts: Map<string, number> }>();
  for (const o of outcomes) {
    const row = rows.get(o.type) ?? { n: 0, ok: 0, rejected: new Map(), counts: new Map() };
    rows.set(o.type, row);
    row.n += 1;
    const r = o.result;
    if (r.kind === 'rejected' || r.kind === 'unparsed') {
      const code = `${r.error.ackCode} ${r.error.code}`;
      row.rejected.set(code, (row.rejected.get(code) ?? 0) + 1);
      continue;
    }
    row.ok += 1;
    for (const [t, n] of Object.entries(r.summary.counts)) row.counts.set(t, (row.counts.get(t) ?? 0) + n);
  }
  const lines = ['| Message type | Messages | Mapped | Rejected (ACK code ×n) | Resources produced (total over the mapped messages) |', '|---|---:|---:|---|---|'];
  for (const [type, r] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
    const rej = [...r.rejected].map(([c, n]) => `${c} ×${n}`).join(', ') || '—';
    const res = [...r.counts].sort(([a], [b]) => a.localeCompare(b)).map(([t, n]) => `${t} ${n}`).join(', ') || '—';
    lines.push(`| ${type} | ${r.n} | ${r.ok} | ${rej} | ${res} |`);
  }
  return `${lines.join('\n')}\n`;
}
