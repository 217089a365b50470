import type { CcdaId } from '@medplum/ccda';
import type { BundleEntry, Identifier, Patient, Reference, Resource } from '@medplum/fhirtypes';
import { usableIds } from './cda-values.ts';
import type { ClinicalResource, EntryContext } from './context.ts';
import { hashIdentifier, identifierFromCdaId, identifierQuery, sha256Hex, uuidFromSeed } from './dedupe-keys.ts';

type Seen = { fullUrl: string; content: string };

/**
 * Collects bundle entries: deterministic fullUrls (hash of document key + index), meta.source,
 * a dedupe identifier per clinical resource and the conditional request that uses it.
 */
export class BundleCollector implements EntryContext {
  readonly entries: BundleEntry[] = [];
  readonly counts: Record<string, number> = {};
  private index = 0;
  private readonly seen = new Map<string, Seen>();
  patient: Reference<Patient> = {};

  constructor(
    private readonly documentKey: string,
    readonly source: string,
    private readonly updateExisting: boolean,
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
    const fromCda = usableIds(ids).map(identifierFromCdaId).filter((i): i is Identifier => !!i);
    const content = sha256Hex(JSON.stringify(resource));
    let key = fromCda[0] ?? hashIdentifier(this.source, ...hashParts);
    let previous = this.lookup(resource.resourceType, key);
    if (previous && previous.content !== content && fromCda[0]) {
      // The sender reused one id for different items: fall back to a content key for this one.
      key = hashIdentifier(this.source, ...hashParts, key.value);
      previous = this.lookup(resource.resourceType, key);
    }
    if (previous) {
      this.count('duplicates-merged');
      return previous.fullUrl;
    }
    const fullUrl = this.nextFullUrl();
    this.seen.set(seenKey(resource.resourceType, key), { fullUrl, content });
    resource.identifier = [key, ...fromCda.filter((i) => i !== key && !(i.system === key.system && i.value === key.value))];
    const query = identifierQuery(key);
    const request: BundleEntry['request'] = this.updateExisting
      ? { method: 'PUT', url: `${resource.resourceType}?${query}` }
      : { method: 'POST', url: resource.resourceType, ifNoneExist: query };
    this.push(fullUrl, resource, request);
    return fullUrl;
  }

  skip(reason: string): void {
    this.count(`skipped:${reason}`);
  }

  private lookup(type: string, key: Identifier): Seen | undefined {
    return this.seen.get(seenKey(type, key));
  }

  private count(key: string): void {
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }
}

function seenKey(type: string, key: Identifier): string {
  return `${type}|${key.system}|${key.value}`;
}
