import type { Binary, Provenance, Resource } from '@medplum/fhirtypes';
import { patientCompartmentRefs } from '../store/search/extract.ts';

/** The source Patient a resource belongs to, from the R4 Patient CompartmentDefinition. */
export function compartmentPatient(resource: Resource): string | undefined {
  const ref = patientCompartmentRefs(resource)[0];
  return ref ? ref.slice('Patient/'.length) : undefined;
}

/**
 * Resources outside the Patient compartment that still describe a person's care: their owner is found
 * through what they point at (a Provenance's targets, a Binary's security context).
 */
export function ownerReferences(resource: Resource): string[] {
  if (resource.resourceType === 'Provenance') return ((resource as Provenance).target ?? []).map((t) => t.reference ?? '').filter(Boolean);
  if (resource.resourceType === 'Binary') {
    const ref = (resource as Binary).securityContext?.reference;
    return ref ? [ref] : [];
  }
  return [];
}
