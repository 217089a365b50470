import { createHash } from 'node:crypto';
import type { Bundle, BundleEntry, Coding, Identifier, Meta, Resource } from '@medplum/fhirtypes';
import { encodedIdentifierToken } from '../../../fhir/search-token.ts';
import { Hl7ErrorCode, type Hl7Warning, type ParsedMessage } from '../types.ts';

export const FACILITY_SYSTEM = 'urn:katahdin:facility';
export const MESSAGE_TYPE_SYSTEM = 'urn:katahdin:hl7v2:message-type';

/** A literal reference (urn:uuid or conditional) assignable to any typed `Reference<T>`. */
export interface Ref {
  reference?: string;
  display?: string;
}

export interface MapOptions {
  /** Receipt time, used where the message carries no time of its own. */
  now: Date;
  /** IANA zone for HL7 times written without an offset. */
  timeZone?: string;
}

/** Deterministic urn:uuid from message identity + a key, so the same message maps identically. */
export function stableUuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The full URL of the entry a message's mapper files under `key`: the same for every mapping of the message. */
export function entryFullUrl(header: { facilityKey: string; controlId: string }, key: string): string {
  return `urn:uuid:${stableUuid(header.facilityKey, header.controlId, key)}`;
}

/** Collects transaction entries for one message; every resource gets meta.source and the message-type tag. */
export class BundleBuilder {
  readonly entries: BundleEntry[] = [];
  /** Problems that did not stop the mapping (skipped segments), without PHI. */
  readonly warnings: Hl7Warning[] = [];
  private readonly keys = new Set<string>();
  /** Conditional update URL → the entry key that holds it. */
  private readonly updates = new Map<string, string>();
  readonly meta: Meta;

  constructor(
    readonly parsed: ParsedMessage,
    readonly options: MapOptions,
  ) {
    const h = parsed.header;
    const tag: Coding = { system: MESSAGE_TYPE_SYSTEM, code: [h.messageType, h.triggerEvent].filter(Boolean).join('^') };
    this.meta = { source: `urn:katahdin:hl7v2:${encodeURIComponent(h.facilityKey)}`, tag: [tag] };
  }

  get header() {
    return this.parsed.header;
  }

  fullUrl(key: string): string {
    return entryFullUrl(this.header, key);
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  /**
   * Upsert by identifier: `PUT Type?identifier=system|value`. Two segments naming the same item (an allergen listed
   * twice) are kept once, with a warning: a transaction refuses two updates of one resource.
   */
  put<T extends Resource>(key: string, resource: T, identifier: Identifier | undefined): Ref {
    const url = identifier?.system && identifier.value ? `${resource.resourceType}?identifier=${encodedIdentifierToken(identifier)}` : undefined;
    if (!url) return this.push(key, resource, { method: 'POST', url: resource.resourceType });
    const holder = this.updates.get(url);
    if (holder !== undefined && holder !== key) {
      this.warnings.push({ code: Hl7ErrorCode.ApplicationInternalError, reason: `${key} is the same ${resource.resourceType} as ${holder}: kept once` });
      return this.ref(holder);
    }
    this.updates.set(url, key);
    return this.push(key, resource, { method: 'PUT', url });
  }

  /** Create unless one with this identifier exists (`ifNoneExist`). */
  createIfNone<T extends Resource>(key: string, resource: T, identifier: Identifier): Ref {
    const ifNoneExist = `identifier=${encodedIdentifierToken(identifier)}`;
    return this.push(key, resource, { method: 'POST', url: resource.resourceType, ifNoneExist });
  }

  private push(key: string, resource: Resource, request: BundleEntry['request']): Ref {
    const fullUrl = this.fullUrl(key);
    if (!this.keys.has(key)) {
      this.keys.add(key);
      this.entries.push({ fullUrl, resource: { ...resource, meta: { ...this.meta, ...resource.meta } }, request });
    }
    return { reference: fullUrl };
  }

  ref(key: string): Ref {
    return { reference: this.fullUrl(key) };
  }

  bundle(): Bundle {
    return { resourceType: 'Bundle', type: 'transaction', entry: this.entries };
  }
}

/** Counts resources by type (used in summaries, tests and docs). */
export function countByType(bundle: Bundle): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of bundle.entry ?? []) {
    const t = e.resource?.resourceType;
    if (t) out[t] = (out[t] ?? 0) + 1;
  }
  return out;
}
