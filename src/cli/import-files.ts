import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { systemContext } from '../access/context.ts';
import { FhirError } from '../fhir/outcome.ts';
import type { Services } from '../services.ts';
import { receiveCcda } from '../ingest/ccda-pipeline.ts';
import { receiveHl7 } from '../ingest/hl7v2-pipeline.ts';
import { splitMessages } from '../ingest/hl7v2/split-batch.ts';

export interface ImportResult {
  file: string;
  ok: boolean;
  resources: number;
  /** HL7 v2 files: how many messages the file held. */
  messages?: number;
  message: string;
}

/** A Bundle is executed as it says (transaction/batch); other JSON and NDJSON lines become one transaction of creates. */
function toBundle(text: string, file: string): Bundle {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  const docs: Resource[] = file.endsWith('.ndjson')
    ? trimmed.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Resource)
    : [JSON.parse(trimmed) as Resource];
  if (docs.length === 1 && docs[0].resourceType === 'Bundle' && ['transaction', 'batch'].includes((docs[0] as Bundle).type)) return docs[0] as Bundle;
  const resources = docs.flatMap((d) => (d.resourceType === 'Bundle' ? ((d as Bundle).entry ?? []).map((e) => e.resource).filter((r): r is Resource => !!r) : [d]));
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((r) => (r.id ? { resource: r, request: { method: 'PUT', url: `${r.resourceType}/${r.id}` } } : { resource: r, request: { method: 'POST', url: r.resourceType } })),
  };
}

export type ImportKind = 'hl7v2' | 'ccda' | 'fhir';

/** By extension first, then by content (exports are often misnamed `.txt`/`.dat`). */
export function detectKind(file: string, text: string): ImportKind {
  const ext = file.toLowerCase().split('.').pop() ?? '';
  if (['hl7', 'er7'].includes(ext)) return 'hl7v2';
  if (['xml', 'cda', 'ccd', 'ccda'].includes(ext)) return 'ccda';
  if (['json', 'ndjson'].includes(ext)) return 'fhir';
  const head = text.replace(/^\uFEFF/, '').trimStart();
  if (head.startsWith('<')) return 'ccda';
  if (head.startsWith('{')) return 'fhir';
  return /^(MSH|FHS|BHS)\|/m.test(head) ? 'hl7v2' : 'fhir';
}

/** Imports one file of any supported kind: HL7 v2 (one or more messages), a C-CDA document, or FHIR JSON/NDJSON. */
export async function importAny(s: Services, file: string, organizationId?: string): Promise<ImportResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { file: basename(file), ok: false, resources: 0, message: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'cannot read the file' };
  }
  const kind = detectKind(file, text);
  if (kind === 'hl7v2') return importHl7(s, basename(file), text);
  if (kind === 'ccda') return importCcda(s, basename(file), text, organizationId);
  return importFile(s, file, organizationId, text);
}

/** Every message goes through the same durable pipeline as MLLP (inbox, dedupe on control id, error queue). */
async function importHl7(s: Services, name: string, text: string): Promise<ImportResult> {
  const messages = splitMessages(text);
  if (messages.length === 0) return { file: name, ok: false, resources: 0, message: 'no HL7 v2 message (MSH segment) found' };
  const counts: Record<string, number> = {};
  const problems: string[] = [];
  for (const [i, raw] of messages.entries()) {
    const out = await receiveHl7(s, raw, 'import');
    counts[out.status] = (counts[out.status] ?? 0) + 1;
    if (out.status === 'error' || out.status === 'rejected') problems.push(`message ${i + 1}: ${ackText(out.ack)}`);
  }
  const summary = Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ');
  const ok = problems.length === 0;
  return { file: name, ok, resources: 0, messages: messages.length, message: ok ? summary : `${summary}; ${problems.join('; ')}` };
}

/** MSA-3 (or ERR-8) of an ACK: the reason a message was refused, without message content. */
function ackText(ack: string): string {
  const segments = ack.split('\r');
  const err = segments.find((l) => l.startsWith('ERR|'))?.split('|')[8];
  return err || segments.find((l) => l.startsWith('MSA|'))?.split('|')[3] || 'refused';
}

async function importCcda(s: Services, name: string, text: string, organizationId?: string): Promise<ImportResult> {
  const out = await receiveCcda(s, text, { ...systemContext(`import ${name}`), organizationId }, 'import');
  const first = out.outcome.issue?.[0]?.diagnostics ?? out.status;
  return { file: name, ok: out.status === 'processed' || out.status === 'duplicate', resources: out.resources ?? 0, message: out.status === 'duplicate' ? 'already imported' : first };
}

export async function importFile(s: Services, file: string, organizationId?: string, content?: string): Promise<ImportResult> {
  const name = basename(file);
  let bundle: Bundle;
  try {
    bundle = toBundle(content ?? (await readFile(file, 'utf8')), file);
  } catch (err) {
    return { file: name, ok: false, resources: 0, message: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'not valid FHIR JSON or NDJSON' };
  }
  const ctx = { ...systemContext(`import ${name}`), organizationId };
  try {
    const out = await s.transactions.execute(ctx, bundle);
    const failed = (out.entry ?? []).filter((e) => !/^2/.test(e.response?.status ?? '2')).length;
    return { file: name, ok: failed === 0, resources: (out.entry ?? []).length - failed, message: failed ? `${failed} entries failed` : 'ok' };
  } catch (err) {
    if (err instanceof FhirError) return { file: name, ok: false, resources: 0, message: err.message };
    throw err;
  }
}
