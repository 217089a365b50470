import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { systemContext } from '../access/context.ts';
import { FhirError } from '../fhir/outcome.ts';
import type { Services } from '../services.ts';

export interface ImportResult {
  file: string;
  ok: boolean;
  resources: number;
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

export async function importFile(s: Services, file: string, organizationId?: string): Promise<ImportResult> {
  const name = basename(file);
  let bundle: Bundle;
  try {
    bundle = toBundle(await readFile(file, 'utf8'), file);
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
