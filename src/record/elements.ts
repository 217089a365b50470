import type { Resource } from '@medplum/fhirtypes';

const ALWAYS = ['resourceType', 'id', 'meta'];
const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

/** `_elements`: keep the named top-level elements (plus id/meta) and mark the resource SUBSETTED. */
export function selectElements(resource: Resource, elements: string[] | undefined): Resource {
  if (!elements || elements.length === 0) return resource;
  const keep = new Set([...ALWAYS, ...elements.map((e) => e.split('.')[0])]);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(resource)) if (keep.has(k)) out[k] = v;
  const meta = { ...(resource.meta ?? {}), tag: [...(resource.meta?.tag ?? []), SUBSETTED] };
  return { ...(out as unknown as Resource), meta };
}

/** `_summary=true`: a conservative summary — identity, status, code, subject, dates; marked SUBSETTED. */
export function summarize(resource: Resource): Resource {
  return selectElements(resource, [
    'identifier', 'status', 'code', 'subject', 'patient', 'name', 'birthDate', 'gender', 'effectiveDateTime', 'issued',
    'period', 'class', 'type', 'clinicalStatus', 'verificationStatus', 'category', 'active', 'url', 'version', 'date',
  ]);
}
