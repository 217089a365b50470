import type { Coding, Resource } from '@medplum/fhirtypes';
import { codeKey, normalizeCode, normalizeSystem } from './codes.ts';
import { ACT_CODE_SYSTEM, SENSITIVITY_LABELS, type SensitivityLabel, type ValueSets } from './value-set-types.ts';

export type { SensitivityLabel } from './value-set-types.ts';

type Json = unknown;
type JsonObject = Record<string, Json>;

function isObject(v: Json): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Labels for one code, from the explicit codes, the ICD-10-CM ranges and the drug-name rules. */
export function labelsForCode(
  vs: ValueSets,
  system: string | undefined,
  code: string | undefined,
  display?: string,
): SensitivityLabel[] {
  const out = new Set<SensitivityLabel>();
  const sys = normalizeSystem(system);
  if (code) {
    for (const l of vs.index.get(codeKey(sys, code)) ?? []) out.add(l);
    const norm = normalizeCode(sys, code);
    for (const r of vs.ranges) {
      const head = norm.slice(0, r.from.length);
      if (r.system === sys && head >= r.from && head <= r.to) out.add(r.label);
    }
  }
  if (display) for (const l of labelsForDrugName(vs, display, sys)) out.add(l);
  return [...out];
}

/** Name rules (antiretroviral ingredients); `system` undefined means free text of a medication concept. */
export function labelsForDrugName(vs: ValueSets, text: string, system?: string): SensitivityLabel[] {
  return vs.names
    .filter((n) => (system === undefined || n.systems.has(system)) && n.include.test(text) && !n.exclude?.test(text))
    .map((n) => n.label);
}

const MEDICATION_KEYS = new Set(['medicationCodeableConcept', 'itemCodeableConcept']);

/**
 * Walks the resource JSON generically: every Coding-shaped object (`system` + `code`) anywhere,
 * including contained resources, components and extensions, is checked. `meta` is skipped so
 * existing labels do not feed back into classification.
 */
function walk(node: Json, vs: ValueSets, out: Set<SensitivityLabel>, isMedication: boolean): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, vs, out, isMedication);
    return;
  }
  if (!isObject(node)) return;
  if (typeof node.code === 'string') {
    const display = typeof node.display === 'string' ? node.display : undefined;
    const system = typeof node.system === 'string' ? node.system : undefined;
    for (const l of labelsForCode(vs, system, node.code, display)) out.add(l);
  }
  if (isMedication && Array.isArray(node.coding) && typeof node.text === 'string') {
    for (const l of labelsForDrugName(vs, node.text)) out.add(l);
  }
  const medicationResource = node.resourceType === 'Medication';
  for (const [key, value] of Object.entries(node)) {
    if (key === 'meta') continue;
    walk(value, vs, out, MEDICATION_KEYS.has(key) || (medicationResource && key === 'code'));
  }
}

/** Labels implied by every coding inside any FHIR JSON fragment (a resource, a section, …). */
function labelsInJson(node: unknown, vs: ValueSets): SensitivityLabel[] {
  const out = new Set<SensitivityLabel>();
  walk(node, vs, out, false);
  return SENSITIVITY_LABELS.filter((l) => out.has(l));
}

/** Sensitivity labels implied by the codes the resource itself carries (no references followed). */
export function labelsForResource(resource: Resource, vs: ValueSets): SensitivityLabel[] {
  return labelsInJson(resource, vs);
}

/** Input codes accepted as our three labels (MH/BH for PSY; the finer SUD codes for ETH). */
const DECLARED: Record<string, SensitivityLabel> = {
  PSY: 'PSY', MH: 'PSY', BH: 'PSY',
  HIV: 'HIV',
  ETH: 'ETH', ETHUD: 'ETH', OPIOIDUD: 'ETH', SUD: 'ETH',
};

/** Labels already present in `meta.security` (ours or a sender's). */
export function declaredLabels(resource: Resource): SensitivityLabel[] {
  const found = new Set<SensitivityLabel>();
  for (const c of resource.meta?.security ?? []) {
    const l = c.system === ACT_CODE_SYSTEM && c.code ? DECLARED[c.code] : undefined;
    if (l) found.add(l);
  }
  return SENSITIVITY_LABELS.filter((l) => found.has(l));
}

const DISPLAY: Record<SensitivityLabel, string> = {
  PSY: 'psychiatry information sensitivity',
  HIV: 'HIV/AIDS information sensitivity',
  ETH: 'substance abuse information sensitivity',
};

export function labelCoding(label: SensitivityLabel): Coding {
  return { system: ACT_CODE_SYSTEM, code: label, display: DISPLAY[label] };
}

/**
 * Returns a copy whose `meta.security` holds exactly `labels` among PSY/HIV/ETH, in a fixed order,
 * keeping every other security coding (confidentiality codes, a sender's MH, …). Idempotent.
 */
export function applyLabels<T extends Resource>(resource: T, labels: readonly SensitivityLabel[]): T {
  const others = (resource.meta?.security ?? []).filter(
    (c) => !(c.system === ACT_CODE_SYSTEM && SENSITIVITY_LABELS.includes(c.code as SensitivityLabel)),
  );
  const ours = SENSITIVITY_LABELS.filter((l) => labels.includes(l)).map(labelCoding);
  const security = [...others, ...ours];
  const { security: _old, ...rest } = resource.meta ?? {};
  return { ...resource, meta: security.length ? { ...rest, security } : rest };
}

/** Union helper used at ingestion and by relabelling: labels never drop automatically. */
export function mergeLabels(...lists: ReadonlyArray<readonly SensitivityLabel[]>): SensitivityLabel[] {
  return SENSITIVITY_LABELS.filter((l) => lists.some((list) => list.includes(l)));
}

/**
 * A stored resource with `add` added to its sensitivity labels, both in `meta.security` and in its stored labels
 * (`had`); undefined when both already hold them all. Only adds: removing a label is a privacy officer's decision.
 */
export function withAddedLabels<T extends Resource>(resource: T, had: readonly string[], add: readonly string[]): { security: string[]; resource: T } | undefined {
  const declared = declaredLabels(resource);
  const labels = mergeLabels(declared, SENSITIVITY_LABELS.filter((l) => had.includes(l) || add.includes(l)));
  if (labels.every((l) => had.includes(l) && declared.includes(l))) return undefined;
  return { security: [...new Set([...had, ...labels])].sort(), resource: applyLabels(resource, labels) };
}
