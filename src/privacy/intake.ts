import type { Provenance, Resource } from '@medplum/fhirtypes';
import { clinicalDate, isOnOrAfter } from './clinical-date.ts';
import type { ConsentState } from './consent.ts';
import { namedBinaries, refKey } from './labels/propagate.ts';

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

/** The type a reference names, read from its stored-row key so that a versioned reference names its resource's type. */
function referenceType(reference: string | undefined, base?: string): string | undefined {
  return /(?:^|\/)([A-Z][A-Za-z]+)\/[^/]+$/.exec(refKey(reference ?? '', base))?.[1];
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
 * - a Binary that resources of the message present (a DocumentReference's attachment, a report's presentedForm, a
 *   Media's content: every attachment label propagation reads, `namedBinaries`) goes with them: the C-CDA's original
 *   XML or a report's PDF is dated by the care its document covers, not by the time it arrived. It stays when any of
 *   them is kept: it is that document's content (a kept report would otherwise present nothing), and the refused
 *   document itself is still discarded;
 * - a Provenance loses the targets (and source entities) that were discarded: one left behind would point at data
 *   the person asked us not to keep; it is itself discarded with them when no clinical target of it was stored.
 * References and attachment URLs name a resource of the message as label propagation reads them (`refKey`): versioned,
 * or absolute under this server's FHIR base `base`; another server's URL names none of them.
 * `decisions[i]` is resources[i]'s own; the answer gives each resource's final decision and the resource to store.
 */
export function withinMessage<D>(resources: Resource[], decisions: D[], stored: (d: D) => boolean, base?: string): Array<{ decision: D; resource: Resource }> {
  const byRef = new Map(resources.map((r, i) => [`${r.resourceType}/${r.id}`, decisions[i]]));
  const decisionOf = (ref: string | undefined) => byRef.get(refKey(ref ?? '', base));
  const presenters = new Map<string, D[]>();
  resources.forEach((r, i) => {
    for (const binary of namedBinaries(r, base)) presenters.set(binary, [...(presenters.get(binary) ?? []), decisions[i]]);
  });
  const binaryDecision = (id: string | undefined, own: D): D => {
    const by = presenters.get(`Binary/${id}`) ?? [];
    return by.some(stored) ? own : (by[0] ?? own);
  };
  return resources.map((resource, i) => {
    const own = decisions[i];
    if (!stored(own)) return { decision: own, resource };
    if (resource.resourceType === 'Binary') return { decision: binaryDecision(resource.id, own), resource };
    if (resource.resourceType !== 'Provenance') return { decision: own, resource };
    const dropped = resource.target.map((t) => decisionOf(t.reference)).filter((d): d is D => d !== undefined && !stored(d));
    if (dropped.length === 0) return { decision: own, resource };
    const kept = (ref: string | undefined) => {
      const d = decisionOf(ref);
      return d === undefined || stored(d);
    };
    const target = resource.target.filter((t) => kept(t.reference));
    if (!target.some((t) => isClinicalType(referenceType(t.reference, base) ?? 'unknown'))) return { decision: dropped[0], resource };
    const entity = resource.entity?.filter((e) => kept(e.what.reference));
    return { decision: own, resource: { ...resource, target, ...(entity ? { entity } : {}) } };
  });
}
