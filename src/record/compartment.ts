import type { Binary, Provenance, Resource } from '@medplum/fhirtypes';
import { patientCompartmentParams, patientCompartmentRefs } from '../store/search/extract.ts';
import { withReferences } from './references.ts';

/**
 * The source Patient a resource belongs to, from the R4 Patient CompartmentDefinition. `base`: this server's FHIR base
 * URL; an absolute reference is to a local Patient only under it (another server's Patient/123 is not ours).
 */
export function compartmentPatient(resource: Resource, base: string): string | undefined {
  const ref = patientCompartmentRefs(resource, base)[0];
  return ref ? ref.slice('Patient/'.length) : undefined;
}

/**
 * A search query restricted to the Patient compartment the resource is in, its references first mapped through
 * `resolve` (bundle-local `urn:uuid:` → `Patient/id`); undefined when it names no Patient. `base` as above.
 */
export function inOwnCompartment(resource: Resource, query: string, resolve: (ref: string) => string | undefined, base: string): string | undefined {
  const patient = patientCompartmentParams(withReferences(resource, resolve), base)[0];
  if (!patient) return undefined;
  const params = new URLSearchParams(query);
  params.append(patient.code, patient.reference);
  return params.toString();
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
