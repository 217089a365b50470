import type { CodeSystem, CodeSystemConcept, OperationOutcomeIssue, Resource, ValueSet } from '@medplum/fhirtypes';
import { forEachBundleResource } from '../fhir/bundle-file.ts';
import { r4File, requiredCodeBindings } from '../fhir/definitions.ts';

/** Paths of `code` elements with a required binding, per resource type, and their allowed codes. */
type Bindings = Map<string, Array<{ path: string[]; allowed: Set<string>; valueSet: string }>>;

let cache: Bindings | undefined;

function flatten(concepts: CodeSystemConcept[] | undefined, out: Set<string>): void {
  for (const c of concepts ?? []) {
    out.add(c.code as string);
    flatten(c.concept, out);
  }
}

/** Codes of a ValueSet when it can be enumerated from the bundled definitions (whole code systems or listed concepts). */
function allowedCodes(url: string, valueSets: Map<string, ValueSet>, codeSystems: Map<string, CodeSystem>): Set<string> | undefined {
  const vs = valueSets.get(url.split('|')[0]);
  if (!vs?.compose?.include?.length || vs.compose.exclude?.length) return undefined;
  const out = new Set<string>();
  for (const inc of vs.compose.include) {
    if (inc.filter?.length || inc.valueSet?.length) return undefined;
    if (inc.concept?.length) inc.concept.forEach((c) => out.add(c.code as string));
    else {
      const cs = inc.system ? codeSystems.get(inc.system) : undefined;
      if (!cs?.concept?.length) return undefined;
      flatten(cs.concept, out);
    }
  }
  return out.size ? out : undefined;
}

function load(): Bindings {
  const valueSets = new Map<string, ValueSet>();
  const codeSystems = new Map<string, CodeSystem>();
  forEachBundleResource<ValueSet | CodeSystem>(r4File('valuesets.json'), (r) => {
    if (r.resourceType === 'ValueSet' && r.url) valueSets.set(r.url, r);
    if (r.resourceType === 'CodeSystem' && r.url) codeSystems.set(r.url, r);
  });
  const out: Bindings = new Map();
  for (const b of requiredCodeBindings()) {
    const allowed = allowedCodes(b.valueSet, valueSets, codeSystems);
    if (!allowed) continue;
    const list = out.get(b.type) ?? [];
    list.push({ path: b.path.split('.').slice(1), allowed, valueSet: b.valueSet.split('|')[0] });
    out.set(b.type, list);
  }
  return out;
}

function valuesAt(node: unknown, path: string[], prefix: string, out: Array<[string, unknown]>): void {
  if (Array.isArray(node)) {
    node.forEach((n, i) => valuesAt(n, path, `${prefix}[${i}]`, out));
    return;
  }
  if (path.length === 0) {
    out.push([prefix, node]);
    return;
  }
  if (node && typeof node === 'object') {
    const next = (node as Record<string, unknown>)[path[0]];
    if (next !== undefined) valuesAt(next, path.slice(1), `${prefix}.${path[0]}`, out);
  }
}

/** Builds the bindings table now (at start-up) rather than during the first write. */
export function loadRequiredBindings(): void {
  cache ??= load();
}

/** Issues for `code` values outside their required ValueSet (the R4 base definitions' required bindings). */
export function requiredBindingIssues(resource: Resource): OperationOutcomeIssue[] {
  cache ??= load();
  const issues: OperationOutcomeIssue[] = [];
  for (const b of cache.get(resource.resourceType) ?? []) {
    const found: Array<[string, unknown]> = [];
    valuesAt(resource, b.path, resource.resourceType, found);
    for (const [where, value] of found) {
      if (typeof value === 'string' && !b.allowed.has(value)) {
        issues.push({ severity: 'error', code: 'code-invalid', diagnostics: `Value "${value.slice(0, 40)}" is not in the required value set ${b.valueSet}`, expression: [where] });
      }
    }
  }
  return issues;
}
