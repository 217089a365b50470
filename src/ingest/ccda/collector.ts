import type { CcdaId } from '@medplum/ccda';
import type { BundleEntry, Identifier, Patient, Reference, Resource } from '@medplum/fhirtypes';
import { usableIds } from './cda-values.ts';
import type { ClinicalResource, EntryContext } from './context.ts';
import { hashIdentifier, identifierFromCdaId, identifierQuery, sha256Hex, uuidFromSeed } from './dedupe-keys.ts';

/** One distinct clinical item of the document: its entry (keyed in `finish`), CDA ids and what tells it apart. */
interface Item {
  entry: BundleEntry & { resource: ClinicalResource };
  cdaIds: Identifier[];
  parts: (string | undefined)[];
}

/**
 * Collects bundle entries: deterministic fullUrls (hash of document key + index), meta.source,
 * a dedupe identifier per clinical resource and the conditional request that uses it.
 *
 * A clinical item is its resource type, its first CDA id and its `hashParts` (type, code, date[, value]). Entries
 * that are the same item (one act listed in two sections, e.g. a problem that is also an encounter diagnosis) become
 * one resource (`mergeInto`). Keys are chosen once the whole document is seen (`finish`), so they do not depend on
 * entry order: a CDA id that names one item is its key; a CDA id the sender reused for different items names none
 * of them and is put on none of them (a later conditional create on it would match them all): each gets a key
 * derived from the id and its own content instead.
 */
export class BundleCollector implements EntryContext {
  readonly entries: BundleEntry[] = [];
  readonly counts: Record<string, number> = {};
  private index = 0;
  private readonly items = new Map<string, Item>();
  patient: Reference<Patient> = {};

  /**
   * @param subject who the document is about (the patient's key identifier, never an SSN; see `subjectOf`): keys
   *   Katahdin derives from content are scoped to it, so two patients' identical items from one source do not share
   *   a key (the sender's conditional create would otherwise file one patient's item as the other's).
   */
  constructor(
    private readonly documentKey: string,
    readonly source: string,
    private readonly updateExisting: boolean,
    private readonly subject: string,
  ) {}

  nextFullUrl(): string {
    return `urn:uuid:${uuidFromSeed(`${this.documentKey}#${this.index++}`)}`;
  }

  /** Adds a non-clinical entry (Binary, DocumentReference, Patient, Organization, Provenance) as given. */
  push(fullUrl: string, resource: Resource, request: BundleEntry['request']): void {
    resource.meta = { ...resource.meta, source: this.source };
    this.entries.push({ fullUrl, resource, request });
    this.count(resource.resourceType);
  }

  add(resource: ClinicalResource, ids: CcdaId | CcdaId[] | undefined, hashParts: (string | undefined)[]): string {
    const cdaIds = usableIds(ids).map(identifierFromCdaId).filter((i): i is Identifier => !!i);
    const identity = [resource.resourceType, cdaIds[0] ? idKey(cdaIds[0]) : '', sha256Hex(...hashParts)].join('|');
    const same = this.items.get(identity);
    if (same) {
      mergeInto(same.entry.resource, resource);
      this.count('duplicates-merged');
      return same.entry.fullUrl as string;
    }
    const fullUrl = this.nextFullUrl();
    // The request is set by `finish`, when the key is known.
    this.push(fullUrl, resource, undefined);
    const entry = this.entries[this.entries.length - 1] as Item['entry'];
    this.items.set(identity, { entry, cdaIds, parts: hashParts });
    return fullUrl;
  }

  /** Gives every clinical entry its key (first identifier) and conditional request; call after the last `add`. */
  finish(): void {
    const items = [...this.items.values()];
    const itemsPerId = new Map<string, number>();
    for (const { entry, cdaIds } of items) {
      for (const id of new Set(cdaIds.map(idKey))) {
        const k = `${entry.resource.resourceType}|${id}`;
        itemsPerId.set(k, (itemsPerId.get(k) ?? 0) + 1);
      }
    }
    for (const { entry, cdaIds, parts } of items) {
      const type = entry.resource.resourceType;
      const own = cdaIds.filter((i) => itemsPerId.get(`${type}|${idKey(i)}`) === 1);
      const first = cdaIds[0];
      const key = !first ? hashIdentifier(this.source, this.subject, ...parts)
        : own.includes(first) ? first
        : hashIdentifier(this.source, this.subject, ...parts, idKey(first));
      entry.resource.identifier = [key, ...own.filter((i, n) => idKey(i) !== idKey(key) && own.findIndex((j) => idKey(j) === idKey(i)) === n)];
      const query = identifierQuery(key);
      entry.request = this.updateExisting ? { method: 'PUT', url: `${type}?${query}` } : { method: 'POST', url: type, ifNoneExist: query };
    }
  }

  skip(reason: string): void {
    this.count(`skipped:${reason}`);
  }

  private count(key: string): void {
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }
}

function idKey(id: Identifier): string {
  return `${id.system}|${id.value}`;
}

/**
 * The same act listed twice (e.g. the visit as encompassingEncounter and again in the Encounters section, a diagnosis
 * also on the problem list) keeps what either listing says: fields only the repeat has are added, lists (category,
 * type, diagnosis, reactions…) are joined, and where both give a single value the first listing's is kept.
 */
function mergeInto(target: ClinicalResource, repeat: ClinicalResource): void {
  const t = target as unknown as Record<string, unknown>;
  for (const [field, value] of Object.entries(repeat)) {
    const current = t[field];
    if (current === undefined) t[field] = value;
    else if (Array.isArray(current) && Array.isArray(value)) {
      const seen = new Set(current.map((v) => JSON.stringify(v)));
      t[field] = [...current, ...value.filter((v) => !seen.has(JSON.stringify(v)))];
    }
  }
}
