import type { Provenance, Resource } from '@medplum/fhirtypes';
import { clinicalDate, isOnOrAfter } from './clinical-date.ts';
import type { ConsentState } from './consent.ts';

export type IntakeDecision = { store: true } | { store: false; reason: 'opted-out' | 'before-opt-in' };

/**
 * Resources that never hold the person's health information: the demographics needed to recognise
 * the person and block new data, their consent records, and the directory of organizations and staff.
 */
export const NON_CLINICAL_TYPES: ReadonlySet<string> = new Set([
  'Patient', 'Person', 'Consent', 'Organization', 'Practitioner', 'PractitionerRole',
  'Location', 'Endpoint', 'HealthcareService',
]);

/** Whether a resource type is clinical (anything not known to be non-clinical, so new types are safe). */
export function isClinicalType(resourceType: string): boolean {
  return !NON_CLINICAL_TYPES.has(resourceType);
}

function referenceType(reference: string | undefined): string | undefined {
  return /(?:^|\/)([A-Z][A-Za-z]+)\/[^/]+$/.exec(reference ?? '')?.[1];
}

/**
 * Provenance says who sent which resource. Provenance of a demographic update is kept (unless the person opted out); Provenance
 * that targets clinical data is itself clinical (it reveals that data existed and where it came
 * from), so it follows the same rules and is discarded with the data it describes.
 */
function provenanceIsDemographic(p: Provenance): boolean {
  return p.target.length > 0 && p.target.every((t) => !isClinicalType(referenceType(t.reference) ?? 'unknown'));
}

/** The decision at ingestion for one resource of a person, before anything is stored. */
export function intakeDecision(resource: Resource, state: ConsentState, receivedAt: string): IntakeDecision {
  if (!isClinicalType(resource.resourceType)) return { store: true };
  // After opt-out only demographics and consents remain (§2): even a demographic update's Provenance, which names
  // the hospital that sent it, is not kept (the opt-out purge removes Provenance too).
  if (state.optedOut) return { store: false, reason: 'opted-out' };
  if (resource.resourceType === 'Provenance' && provenanceIsDemographic(resource)) return { store: true };
  if (state.optInDate && !isOnOrAfter(clinicalDate(resource, receivedAt), state.optInDate)) {
    return { store: false, reason: 'before-opt-in' };
  }
  return { store: true };
}

export interface IntakeEntry {
  resource: Resource;
  fullUrl?: string;
}

/**
 * Decides a whole message or transaction. A Provenance is stored only when every target it names in
 * the same message is stored: one left behind would point at data the person asked us not to keep,
 * and one about a demographic update in the message stays with that update.
 */
export function intakeDecisions(entries: IntakeEntry[], state: ConsentState, receivedAt: string): IntakeDecision[] {
  const decisions = entries.map((e) => intakeDecision(e.resource, state, receivedAt));
  const byRef = new Map<string, IntakeDecision>();
  entries.forEach((e, i) => {
    if (e.fullUrl) byRef.set(e.fullUrl, decisions[i]);
    if (e.resource.id) byRef.set(`${e.resource.resourceType}/${e.resource.id}`, decisions[i]);
  });
  return entries.map((e, i) => {
    if (e.resource.resourceType !== 'Provenance' || state.optedOut) return decisions[i];
    const targets = e.resource.target.map((t) => byRef.get(t.reference ?? ''));
    const dropped = targets.find((d) => d && !d.store);
    if (dropped) return dropped;
    return targets.length > 0 && targets.every((d) => d?.store) ? { store: true } : decisions[i];
  });
}
