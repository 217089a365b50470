import { getDataType } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from '../fhir/definitions.ts';

const ALWAYS = ['resourceType', 'id', 'meta'];
const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

/** The `_summary` values that subset a resource (`count` returns none, `false` all of it). */
export type SummaryMode = 'true' | 'text' | 'data';

/** Per `mode:type`, the top-level JSON properties a summary keeps; derived from the R4 definitions once per type. */
const summaryProperties = new Map<string, Set<string>>();

/** The resource with only the properties `keep` admits (a primitive's `_name` sibling follows it), marked SUBSETTED. */
function subset(resource: Resource, keep: (name: string) => boolean): Resource {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(resource)) if (keep(k.startsWith('_') ? k.slice(1) : k)) out[k] = v;
  const meta = { ...(resource.meta ?? {}), tag: [...(resource.meta?.tag ?? []), SUBSETTED] };
  return { ...(out as unknown as Resource), meta };
}

/** JSON property names of a type's elements: a choice element `value[x]` is `valueQuantity`, `valueString`, … */
function jsonNames(type: string, elementNames: Iterable<string>): Set<string> {
  const { elements } = getDataType(type);
  const out = new Set(ALWAYS);
  for (const name of elementNames) {
    const choice = elements[`${name}[x]`];
    if (!choice) out.add(name);
    else for (const { code } of choice.type) out.add(name + code[0].toUpperCase() + code.slice(1));
  }
  return out;
}

function propertiesFor(mode: 'true' | 'text', type: string): Set<string> {
  const key = `${mode}:${type}`;
  let names = summaryProperties.get(key);
  if (!names) {
    loadFhirDefinitions();
    const schema = getDataType(type);
    // @medplum/core keeps the top-level elements flagged isSummary, and those with min > 0, per type (choices without [x]).
    names = mode === 'true' ? jsonNames(type, schema.summaryProperties ?? []) : jsonNames(type, ['text', ...(schema.mandatoryProperties ?? [])]);
    summaryProperties.set(key, names);
  }
  return names;
}

/** `_elements`: keep the named top-level elements (plus id/meta) and mark the resource SUBSETTED. */
export function selectElements(resource: Resource, elements: string[] | undefined): Resource {
  if (!elements || elements.length === 0) return resource;
  const keep = new Set([...ALWAYS, ...elements.map((e) => e.split('.')[0])]);
  return subset(resource, (k) => keep.has(k));
}

/**
 * `_summary` (R4 search.html#summary): `true` keeps the elements the base definition marks as summary, `text` the
 * narrative and the mandatory elements, `data` everything but the narrative; id and meta always, marked SUBSETTED.
 * Elements inside a kept element are kept whole.
 */
export function summarize(resource: Resource, mode: SummaryMode): Resource {
  if (mode === 'data') return subset(resource, (k) => k !== 'text');
  const keep = propertiesFor(mode, resource.resourceType);
  return subset(resource, (k) => keep.has(k));
}
