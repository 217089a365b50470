import type { Bundle, Resource } from '@medplum/fhirtypes';
import { labelsForCdaXml } from './ccda-codes.ts';
import { applyLabels, declaredLabels, labelsForResource, mergeLabels } from './classifier.ts';
import { relativeTo } from '../../store/search/index-values.ts';
import { SENSITIVITY_LABELS, type SensitivityLabel, type ValueSets } from './value-set-types.ts';

/**
 * Reference fields through which sensitivity flows from the target to the holder: a report's results,
 * a visit's reason and diagnoses, a panel's members, a document's section entries, a prescription's
 * drug, a claim's diagnoses. Links to the patient, the encounter or the author never carry it.
 */
export const PROPAGATING_KEYS = new Set([
  'result', 'reasonReference', 'diagnosisReference', 'condition', 'hasMember', 'derivedFrom',
  'addresses', 'medicationReference', 'entry', 'focus', 'prescription', 'claim', 'related', 'basedOn',
]);

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Attachments whose `url` names the Binary holding the content (a document's, a report's presented form, a message's
 * payload, a Media's content): the content's sensitivity is the holder's, as a section's entries are a Composition's.
 */
const ATTACHMENT_KEYS = new Set(['attachment', 'presentedForm', 'contentAttachment']);
/**
 * Types whose `content` is itself an Attachment (Media). Only these: elsewhere `content` is a backbone element
 * (DocumentReference.content, whose `attachment` is found by its own key) or a code (CodeSystem.content).
 */
const CONTENT_ATTACHMENT_TYPES: ReadonlySet<string> = new Set(['Media']);
/**
 * A stored Binary (`Binary/id`, versioned `Binary/id/_history/vid` too, also as an absolute URL) or a bundle entry
 * (`urn:uuid:…`, resolved by fullUrl). The version is read with the id's characters only, as `binaries_named` in
 * the 0023 migration reads it: the SQL must find every document this names.
 */
const BINARY_URL = /(?:^|\/)Binary\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$|^urn:/;

/** References under propagating keys and attachment URLs naming a Binary, anywhere except `meta`. */
function links(resource: Resource): { references: string[]; attachments: string[] } {
  const references: string[] = [];
  const attachments: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!isObject(node)) return;
    const contentIsAttachment = typeof node.resourceType === 'string' && CONTENT_ATTACHMENT_TYPES.has(node.resourceType);
    for (const [k, v] of Object.entries(node)) {
      if (k === 'meta') continue;
      const attachment = ATTACHMENT_KEYS.has(k) || (k === 'content' && contentIsAttachment);
      if (PROPAGATING_KEYS.has(k) || attachment) {
        for (const item of Array.isArray(v) ? v : [v]) {
          if (!isObject(item)) continue;
          if (PROPAGATING_KEYS.has(k) && typeof item.reference === 'string') references.push(item.reference);
          if (attachment && typeof item.url === 'string' && BINARY_URL.test(item.url)) attachments.push(item.url);
        }
      }
      visit(v);
    }
  };
  visit(resource);
  return { references, attachments };
}

/** Every Reference held directly under a propagating key, and every attachment URL naming a Binary, anywhere except `meta`. */
export function propagatingReferences(resource: Resource): string[] {
  const { references, attachments } = links(resource);
  return [...references, ...attachments];
}

/**
 * What a resource takes labels from, keyed as stored rows are (`Type/id`; see `refKey`): its propagating references
 * and the Binaries its attachments name, versioned or absolute under `base` alike, so a write finds the stored labels
 * of `Observation/1/_history/2` or `<base>/Binary/1` as it finds those of `Observation/1` and `Binary/1`.
 */
export function propagatingKeys(resource: Resource, base?: string): string[] {
  return [...new Set(propagatingReferences(resource).map((ref) => refKey(ref, base)))];
}

/**
 * The Binaries a resource's attachments name (`Binary/id`, the version of `Binary/id/_history/vid` dropped, also from
 * an absolute URL under this server's FHIR base `base`; a bundle entry's `urn:uuid:…`). Sensitivity flows both ways
 * along these: a PDF or text Binary has no codes of its own, so it is as sensitive as the document that presents it.
 * Another server's `…/Binary/id` is kept whole (it names no local Binary); without `base`, see `refKey`.
 */
export function namedBinaries(resource: Resource, base?: string): string[] {
  return [...new Set(links(resource).attachments.map((url) => refKey(url, base)))];
}

/**
 * Labels each named Binary must carry: the sensitive labels of every document (with its final labels) naming it,
 * keyed `Binary/id`. Only additions: a Binary keeps whatever it has besides.
 */
export function labelsForNamedBinaries(documents: ReadonlyArray<{ resource: Resource; labels: readonly string[] }>, base?: string): Map<string, SensitivityLabel[]> {
  const out = new Map<string, SensitivityLabel[]>();
  for (const { resource, labels } of documents) {
    const sensitive = SENSITIVITY_LABELS.filter((l) => labels.includes(l));
    if (sensitive.length === 0) continue;
    for (const key of namedBinaries(resource, base)) if (key.startsWith('Binary/')) out.set(key, mergeLabels(out.get(key) ?? [], sensitive));
  }
  return out;
}

/** Who a stored row belongs to: its person, and the organization that sent it. */
export interface RowOwner {
  personId?: string | null;
  sourceOrg?: string | null;
}

/**
 * Whether a document's labels pass to a Binary stored apart from it: only within one person's record, or to a Binary
 * of no person that the document's own sender stored. Never across persons: a sender could otherwise withhold anyone's
 * content by naming it from a labelled document.
 */
export function passesToStoredBinary(document: RowOwner, binary: RowOwner): boolean {
  return binary.personId ? binary.personId === document.personId : !!binary.sourceOrg && binary.sourceOrg === document.sourceOrg;
}

/** An absolute URL (`http:`, `https:`, `urn:` …), as opposed to a relative reference. */
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * The key a reference names a resource by: `Type/id` for a local one (relative, or an absolute URL under this
 * server's FHIR base `base`, as the search index reads references: `relativeTo` in store/search/index-values.ts),
 * versioned or not; any other URL (another server's `…/Binary/1`, a `urn:uuid:` fullUrl) only itself.
 * Without `base` (a caller that does not know it), any absolute `…/Type/id` counts as local: erring towards
 * labelling too much rather than leaving this server's own content unlabelled.
 */
export function refKey(reference: string, base?: string): string {
  if (reference.startsWith('urn:')) return reference;
  const local = relativeTo(reference, base);
  if (base !== undefined && ABSOLUTE.test(local)) return reference;
  const m = /([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(local);
  return m ? m[1] : reference;
}

/** Labels of base64 content when it is XML (a C-CDA document: its coded elements, by code system OID). */
function xmlContentLabels(contentType: string | undefined, data: string | undefined, vs: ValueSets): SensitivityLabel[] {
  return data && /xml/i.test(contentType ?? '') ? labelsForCdaXml(Buffer.from(data, 'base64').toString('utf8'), vs) : [];
}

/**
 * Labels from document content: a C-CDA inline in a DocumentReference, or held in a Binary (the C-CDA upload stores
 * the original there and the DocumentReference points at it, taking the Binary's labels through `propagatingReferences`).
 */
function contentLabels(resource: Resource, vs: ValueSets): SensitivityLabel[] {
  if (resource.resourceType === 'Binary') return xmlContentLabels(resource.contentType, resource.data, vs);
  if (resource.resourceType !== 'DocumentReference') return [];
  return mergeLabels(...(resource.content ?? []).map((c) => xmlContentLabels(c.attachment?.contentType, c.attachment?.data, vs)));
}

/**
 * Resources about no one in particular: the directory and knowledge artifacts (a care-plan template
 * for depression, a mental-health clinic's service entry). Their codes do not make them sensitive.
 */
export const UNLABELLED_TYPES: ReadonlySet<string> = new Set([
  'Organization', 'Practitioner', 'PractitionerRole', 'Location', 'Endpoint', 'HealthcareService',
  'ActivityDefinition', 'PlanDefinition', 'Questionnaire', 'ValueSet', 'CodeSystem', 'ConceptMap',
  'StructureDefinition', 'Library', 'Measure', 'ObservationDefinition', 'SpecimenDefinition',
]);

/** Own labels: codes in the resource, C-CDA content (inline or a Binary's), and labels already declared in meta.security. */
export function ownLabels(resource: Resource, vs: ValueSets): SensitivityLabel[] {
  if (UNLABELLED_TYPES.has(resource.resourceType)) return declaredLabels(resource);
  return mergeLabels(labelsForResource(resource, vs), contentLabels(resource, vs), declaredLabels(resource));
}

/**
 * Labels a set of resources (a transaction, a C-CDA conversion, one person's record) including what
 * flows along references, to a fixed point so chains (EOB → Claim → Condition) resolve.
 * `fullUrls[i]` is the bundle fullUrl of `resources[i]` when there is one.
 */
export function propagateLabels(resources: Resource[], vs: ValueSets, fullUrls: Array<string | undefined> = [], base?: string): Resource[] {
  const labels = resources.map((r) => ownLabels(r, vs));
  const byKey = new Map<string, number>();
  resources.forEach((r, i) => {
    if (r.id) byKey.set(`${r.resourceType}/${r.id}`, i);
    const url = fullUrls[i];
    if (url) byKey.set(refKey(url, base), i);
  });
  const resolve = (refs: string[]) => refs.map((ref) => byKey.get(refKey(ref, base))).filter((i): i is number => i !== undefined);
  // edges[i]: whose labels resource i takes — what it references, and for a Binary every document naming it.
  const edges = resources.map((r) => resolve(propagatingReferences(r)));
  resources.forEach((r, i) => {
    for (const t of resolve(namedBinaries(r, base))) if (t !== i && resources[t].resourceType === 'Binary') edges[t].push(i);
  });
  for (let changed = true; changed; ) {
    changed = false;
    edges.forEach((targets, i) => {
      const next = mergeLabels(labels[i], ...targets.map((t) => labels[t]));
      if (next.length !== labels[i].length) {
        labels[i] = next;
        changed = true;
      }
    });
  }
  return resources.map((r, i) => applyLabels(r, labels[i]));
}

/** Same for a Bundle: entries resolve each other by fullUrl or `Type/id`; `base` as for `propagateLabels`. */
export function propagateBundleLabels(bundle: Bundle, vs: ValueSets, base?: string): Bundle {
  const entries = (bundle.entry ?? []).filter((e) => e.resource);
  const labelled = propagateLabels(entries.map((e) => e.resource as Resource), vs, entries.map((e) => e.fullUrl), base);
  let k = 0;
  return { ...bundle, entry: (bundle.entry ?? []).map((e) => (e.resource ? { ...e, resource: labelled[k++] } : e)) };
}

/**
 * `katahdin privacy relabel`: relabels one person's whole record with the current value sets
 * (labels propagate between the person's resources). Labels are only added, never removed
 * automatically; returns the indices whose labels changed so only those rows are rewritten.
 */
export function relabelRecord(resources: Resource[], vs: ValueSets, base?: string): { resources: Resource[]; changed: number[] } {
  const next = propagateLabels(resources, vs, [], base);
  const changed = next.flatMap((r, i) => (declaredLabels(r).join() === declaredLabels(resources[i]).join() ? [] : [i]));
  return { resources: next, changed };
}

/**
 * `katahdin privacy relabel` for an earlier version of a resource: its own codes under the current value sets and the
 * labels of what it references in the relabelled record (`recordLabels`, keyed `Type/id`), added to `had`. Earlier
 * versions are not part of the record's propagation: nothing references a version, and they carry only what they hold.
 */
export function versionLabels(version: Resource, had: readonly SensitivityLabel[], recordLabels: ReadonlyMap<string, readonly SensitivityLabel[]>, vs: ValueSets, base?: string): SensitivityLabel[] {
  const inherited = propagatingReferences(version).map((ref) => recordLabels.get(refKey(ref, base)) ?? []);
  return mergeLabels(had, ownLabels(version, vs), ...inherited);
}
