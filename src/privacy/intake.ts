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

/**
 * The rules of one message (a bundle, an HL7 message, a C-CDA document) over each resource's own decision, for
 * resources that carry no clinical date of their own:
 * - a Binary referenced by a DocumentReference of the message takes that DocumentReference's decision (the C-CDA's
 *   original XML goes or stays with the document, whose date is the care it covers, not the time it arrived);
 * - a Provenance loses the targets (and source entities) that were discarded: one left behind would point at data
 *   the person asked us not to keep; it is itself discarded with them when no clinical target of it was stored.
 * `decisions[i]` is resources[i]'s own; the answer gives each resource's final decision and the resource to store.
 */
export function withinMessage<D>(resources: Resource[], decisions: D[], stored: (d: D) => boolean): Array<{ decision: D; resource: Resource }> {
  const byRef = new Map(resources.map((r, i) => [`${r.resourceType}/${r.id}`, decisions[i]]));
  const documentOf = new Map<string, D>();
  resources.forEach((r, i) => {
    if (r.resourceType !== 'DocumentReference') return;
    for (const c of r.content) {
      const binary = /(?:^|\/)(Binary\/[^/]+)$/.exec(c.attachment.url ?? '')?.[1];
      if (binary) documentOf.set(binary, decisions[i]);
    }
  });
  return resources.map((resource, i) => {
    const own = decisions[i];
    if (!stored(own)) return { decision: own, resource };
    if (resource.resourceType === 'Binary') return { decision: documentOf.get(`Binary/${resource.id}`) ?? own, resource };
    if (resource.resourceType !== 'Provenance') return { decision: own, resource };
    const dropped = resource.target.map((t) => byRef.get(t.reference ?? '')).filter((d): d is D => d !== undefined && !stored(d));
    if (dropped.length === 0) return { decision: own, resource };
    const kept = (ref: string | undefined) => {
      const d = byRef.get(ref ?? '');
      return d === undefined || stored(d);
    };
    const target = resource.target.filter((t) => kept(t.reference));
    if (!target.some((t) => isClinicalType(referenceType(t.reference) ?? 'unknown'))) return { decision: dropped[0], resource };
    const entity = resource.entity?.filter((e) => kept(e.what.reference));
    return { decision: own, resource: { ...resource, target, ...(entity ? { entity } : {}) } };
  });
}
