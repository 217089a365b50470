import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Provenance, Resource } from '@medplum/fhirtypes';
import type { AccessGate } from '../access/gate.ts';
import type { GateScope } from '../access/gate-scope.ts';
import type { AccessContext } from '../access/context.ts';
import { allOk, badRequest, FhirError, fhirError, preconditionFailed } from '../fhir/outcome.ts';
import { conditionalKey, ExistingKeys, lockKeys } from './conditional-locks.ts';
import { conditionalQuery, type RecordService } from './record-service.ts';
import type { QueuedWrite, WriteSlot } from './write-queue.ts';
import { rewriteReferences } from './references.ts';
import { declaredLabels } from '../privacy/labels/classifier.ts';
import { propagateLabels } from '../privacy/labels/propagate.ts';
import { loadValueSets } from '../privacy/labels/value-sets.ts';
import { inPatientCompartment } from '../store/search/extract.ts';
import { inOwnCompartment } from './compartment.ts';

interface PlannedEntry {
  index: number;
  entry: BundleEntry;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  type: string;
  id?: string;
  /** Set when a conditional create found an existing resource: no write. */
  existing?: Resource;
  /** The resource a conditional update matched. */
  matchedId?: string;
  /** An earlier entry of this bundle with the same conditional key that matched nothing: this one resolves to it. */
  sameAs?: PlannedEntry;
}

export interface TransactionOptions {
  /**
   * Conditional creates, updates and references of resources in a Patient compartment match only resources of the
   * entry's own Patient. Ingestion sets it: there the condition is the converter's de-duplication key, built from ids
   * senders copy across patients (CDA sample UUIDs, placer/filler numbers), and a match in another Patient's
   * compartment would file this patient's item as that patient's. The FHIR API keeps the client's query as sent.
   */
  samePatient?: boolean;
  /**
   * Conditional keys match only the sender's own records (and the shared directory), whatever its scopes let it read.
   * Ingestion sets it: a key (a record number, or the SSN when a sender's documents carry no record number) names that
   * source's record; another source's record of the same patient is for the MPI to link, never to overwrite.
   */
  sameSource?: boolean;
  /**
   * A `Provenance` for what the transaction wrote, naming the organization that sent it (and the Bundle's identifier,
   * when it has one), written in the same transaction as ingestion's per-message Provenance is. Not in the response:
   * a transaction answers its own entries only.
   */
  provenance?: { organizationId: string; bundle?: { system?: string; value?: string } };
  /**
   * `Prefer: return=`: what each written entry's response carries besides its status, location and ETag: the resource
   * (`representation`) or an informational `outcome` (`OperationOutcome`). Nothing else by default (`minimal`).
   */
  return?: ReturnPreference;
}

/** R4 `Prefer: return=` values. */
export type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

/** The search query of a conditional create or update; undefined for other entries. */
function conditionalOf(p: PlannedEntry): string | undefined {
  if (p.method === 'POST') return p.entry.request?.ifNoneExist;
  if (p.method === 'PUT' && !p.id) return p.entry.request!.url.split('?')[1] ?? '';
  return undefined;
}

/**
 * The conditional query restricted to the compartment of the entry's Patient (its reference to a Patient entry of
 * this bundle resolved through `ids`). Undefined when the entry names no Patient: then nothing may match, and a
 * conditional create or update creates.
 */
function withPatient(p: PlannedEntry, query: string, ids: Map<string, string>, base: string): string | undefined {
  return p.entry.resource ? inOwnCompartment(p.entry.resource, query, (ref) => ids.get(ref), base) : undefined;
}

/**
 * Two entries updating the same conditional URL would write one resource twice, the last silently winning (FHIR: a
 * transaction whose resource identities overlap SHALL fail). Refused before anything is looked up, naming both entries.
 */
function refuseRepeatedUpdates(entries: BundleEntry[]): void {
  const first = new Map<string, number>();
  entries.forEach((e, i) => {
    const [type, query] = e.request?.method === 'PUT' ? (e.request.url ?? '').split('?') : [];
    if (query === undefined) return;
    const key = conditionalKey(type, query);
    const earlier = first.get(key);
    if (earlier !== undefined) {
      throw badRequest(`Bundle entries ${earlier} and ${i} both update ${e.request!.url}: one resource cannot be updated twice in one Bundle.`, [`Bundle.entry[${earlier}].request.url`, `Bundle.entry[${i}].request.url`]);
    }
    first.set(key, i);
  });
}

/** Processing order inside a transaction: deletes, then shared resources, Patients, clinical data, reads. */
function rank(p: PlannedEntry): number {
  if (p.method === 'DELETE') return 0;
  if (p.method === 'GET') return 5;
  if (['Organization', 'Practitioner', 'Location', 'PractitionerRole', 'Medication'].includes(p.type)) return 1;
  if (p.type === 'Patient') return 2;
  if (p.type === 'Provenance') return 4;
  return 3;
}

/**
 * Sensitivity labels flow along references inside the bundle before anything is written, so a report written
 * before its labelled results is labelled too (labels of already stored resources are added by the write policy).
 */
function labelWithinBundle(planned: PlannedEntry[], base: string): void {
  const withResource = planned.filter((p) => p.entry.resource && (p.method === 'POST' || p.method === 'PUT'));
  const labelled = propagateLabels(withResource.map((p) => ({ ...p.entry.resource!, id: p.id ?? p.entry.resource!.id })), loadValueSets(), [], base);
  withResource.forEach((p, i) => {
    p.entry = { ...p.entry, resource: labelled[i] };
  });
}

/** FHIR `transaction` (atomic, references resolved) and `batch` (entries independent) Bundles. */
export class TransactionService {
  private readonly knownKeys = new ExistingKeys();

  constructor(
    private readonly gate: AccessGate,
    private readonly records: RecordService,
    private readonly fhirBase: string,
  ) {}

  async execute(ctx: AccessContext, body: unknown, opts: { return?: ReturnPreference } = {}): Promise<Bundle> {
    const bundle = body as Bundle;
    if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle') throw badRequest('Expected a Bundle.', ['resourceType']);
    if (bundle.type !== 'transaction' && bundle.type !== 'batch') throw badRequest('Bundle.type must be transaction or batch.', ['Bundle.type']);
    const entries = bundle.entry ?? [];
    refuseRepeatedUpdates(entries);
    if (bundle.type === 'batch') return this.batch(ctx, entries, opts.return);
    // A submitting system's transaction is a submission to the record, like an HL7 message or a C-CDA document.
    const provenance = ctx.role === 'system' && !ctx.internal && ctx.organizationId
      ? { organizationId: ctx.organizationId, bundle: bundle.identifier ?? (bundle.id ? { system: 'urn:katahdin:fhir:bundle-id', value: bundle.id } : undefined) }
      : undefined;
    const responses = await this.gate.run(ctx, { action: 'create', query: 'transaction' }, (scope) => this.transaction(scope, entries, { provenance, return: opts.return }));
    return { resourceType: 'Bundle', type: 'transaction-response', entry: responses };
  }

  /** Runs a transaction inside an existing gate scope (ingestion uses this to add its own steps to the same transaction). */
  async transaction(scope: GateScope, entries: BundleEntry[], opts: TransactionOptions = {}): Promise<BundleEntry[]> {
    refuseRepeatedUpdates(entries);
    const planned = entries.map((entry, index) => this.plan(entry, index));
    // Entries scoped to their Patient are matched once the Patients (matched in the first round) have their ids.
    const scoped = opts.samePatient ? planned.filter((p) => conditionalOf(p) !== undefined && inPatientCompartment(p.type)) : [];
    const unscoped = planned.filter((p) => !scoped.includes(p));
    const ids = new Map<string, string>();
    await this.matchConditionals(scope, unscoped, conditionalOf, opts);
    for (const p of unscoped) this.assignIdentity(p, ids);
    await this.matchConditionals(scope, scoped, (p) => withPatient(p, conditionalOf(p)!, ids, this.fhirBase), opts);
    for (const p of scoped) this.assignIdentity(p, ids);
    const resolve = await this.conditionalReferences(scope, planned, ids, opts);
    for (const p of planned) {
      if (p.entry.resource) {
        rewriteReferences(p.entry.resource, (ref) => ids.get(ref) ?? resolve(p, ref));
      }
    }
    labelWithinBundle(planned, this.fhirBase);
    // Every write is validated before anything is written: an invalid entry fails the bundle without a statement.
    const checked = new Map(planned.flatMap((p) => {
      const write = this.check(p);
      return write ? [[p.index, write] as const] : [];
    }));
    const queue = this.records.queue(scope);
    const responses: BundleEntry[] = new Array(planned.length);
    const written: Array<{ p: PlannedEntry; slot: WriteSlot }> = [];
    for (const p of [...planned].sort((a, b) => rank(a) - rank(b) || a.index - b.index)) {
      const write = checked.get(p.index);
      if (write) written.push({ p, slot: await queue.add(write) });
      else if (p.existing) responses[p.index] = this.matchedResponse(p, p.existing);
      else if (!p.sameAs) {
        // Deletes and reads see every write queued before them.
        await queue.flush();
        responses[p.index] = await this.apply(scope, p);
      }
    }
    await queue.flush();
    for (const { p, slot } of written) responses[p.index] = this.writeResponse(p, slot);
    for (const p of planned) if (p.sameAs && p.method === 'POST') responses[p.index] = this.sameAsResponse(p, responses[p.sameAs.index]);
    if (opts.return === 'representation' || opts.return === 'OperationOutcome') withPreferred(planned, responses, written, opts.return);
    // The submission's Provenance names only what was stored: a discarded resource (privacy intake) is not pointed at.
    const kept = written.filter(({ slot }) => !slot.outcome?.discarded);
    if (opts.provenance && kept.length) {
      const targets = kept.map(({ p }) => responses[p.index]);
      await this.records.create(scope, submissionProvenance(targets, opts.provenance, scope.settings.now), { derived: true });
    }
    return responses;
  }

  /** The validated write of a POST or PUT entry; undefined for reads, deletes and conditional creates that matched. */
  private check(p: PlannedEntry): QueuedWrite | undefined {
    const { entry } = p;
    const write = p.method === 'POST' && !p.existing && !p.sameAs ? this.records.checkCreate(entry.resource, p.id)
      : p.method === 'PUT' ? this.records.checkUpdate(p.type, p.id!, { ...entry.resource, id: p.id }, entry.request?.ifMatch)
      : undefined;
    // `labelWithinBundle` declared each resource's own labels (and those flowing inside the bundle) in meta.security.
    return write && { ...write, ownLabels: declaredLabels(write.resource) };
  }

  private writeResponse(p: PlannedEntry, slot: WriteSlot): BundleEntry {
    const out = slot.outcome;
    if (!out) throw new Error(`Bundle entry ${p.index}: write queue gave no outcome`);
    const version = out.resource.meta?.versionId ?? '1';
    const location = `${p.type}/${out.resource.id}/_history/${version}`;
    const status = p.method === 'POST' || out.status === 201 ? '201 Created' : '200 OK';
    return { fullUrl: `${this.fhirBase}/${p.type}/${out.resource.id}`, response: { status, location, etag: `W/"${version}"` } };
  }

  private plan(entry: BundleEntry, index: number): PlannedEntry {
    const method = entry.request?.method;
    const url = entry.request?.url;
    if (!method || !url || !['GET', 'POST', 'PUT', 'DELETE'].includes(method)) {
      throw badRequest(`Bundle entry ${index} needs request.method (GET, POST, PUT or DELETE) and request.url.`, [`Bundle.entry[${index}].request`]);
    }
    const type = url.split(/[/?]/)[0];
    if ((method === 'POST' || method === 'PUT') && entry.resource?.resourceType !== type) {
      throw badRequest(`Bundle entry ${index}: resource type does not match request.url.`, [`Bundle.entry[${index}].resource`]);
    }
    const id = /^[A-Za-z]+\/([^/?]+)$/.exec(url)?.[1];
    // As for a plain update (R4): the resource carries the id of the URL.
    if (method === 'PUT' && id && entry.resource?.id !== id) {
      throw badRequest(`Bundle entry ${index}: the resource id must be "${id.slice(0, 64)}", as in request.url.`, [`Bundle.entry[${index}].resource.id`]);
    }
    return { index, entry, method: method as PlannedEntry['method'], type, id };
  }

  /**
   * Conditional creates (`ifNoneExist`) and updates (`PUT Type?query`). A key that matches nothing could be created by
   * two parallel transactions at once, so keys not known to exist are locked (sorted, one statement) before they are
   * looked up. Keys known to exist (a feed's organization and practitioners, after its first message) are not
   * locked, so the transactions that mention them do not serialise on them.
   */
  private async matchConditionals(scope: GateScope, planned: PlannedEntry[], queryOf: (p: PlannedEntry) => string | undefined, opts: TransactionOptions): Promise<void> {
    const conditional = planned.flatMap((p) => {
      const query = queryOf(p);
      return query === undefined ? [] : [{ p, search: conditionalQuery(p.type, query), key: conditionalKey(p.type, query) }];
    });
    await lockKeys(scope.tx, conditional.filter((c) => !this.knownKeys.has(c.key)).map((c) => c.key));
    const lookup = { ownRecords: opts.sameSource };
    const found = await scope.searchMany(conditional.map(({ p, search }) => ({ type: p.type, query: search })), lookup);
    for (const [i, { p, search, key }] of conditional.entries()) {
      let matches = this.match(p, found[i]);
      if (matches.length === 0 && this.knownKeys.has(key)) {
        // Deleted since it was seen: look again under the lock, as for any key that may be missing.
        this.knownKeys.delete(key);
        await lockKeys(scope.tx, [key]);
        matches = this.match(p, (await scope.searchMany([{ type: p.type, query: search }], lookup))[0]);
      }
      if (matches.length === 1) this.knownKeys.add(key);
    }
    // The same new key twice in one bundle (a C-CDA author on every entry) is one new resource, not two.
    const created = new Map<string, PlannedEntry>();
    for (const { p, key } of conditional) {
      if (p.existing || p.matchedId) continue;
      const first = created.get(key);
      if (first) p.sameAs = first;
      else created.set(key, p);
    }
  }

  /** Records what a conditional entry's lookup found on the entry (at most one match is accepted). */
  private match(p: PlannedEntry, matches: Resource[]): Resource[] {
    if (p.method === 'POST') {
      if (matches.length > 1) throw preconditionFailed(`Conditional create matched ${matches.length} resources.`);
      p.existing = matches[0];
    } else {
      if (matches.length > 1) throw fhirError(412, 'multiple-matches', `Bundle entry ${p.index}: conditional update matched ${matches.length} resources.`);
      p.matchedId = matches[0]?.id;
    }
    return matches;
  }

  private assignIdentity(p: PlannedEntry, ids: Map<string, string>): void {
    const { entry } = p;
    if (p.method === 'POST') p.id = p.existing?.id ?? p.sameAs?.id ?? randomUUID();
    else if (p.method === 'PUT' && !p.id) {
      p.id = p.matchedId ?? p.sameAs?.id ?? entry.resource?.id ?? randomUUID();
      if (entry.resource?.id !== undefined && entry.resource.id !== p.id) {
        throw badRequest(`Bundle entry ${p.index}: the resource id is not the id of the resource the condition matched.`, [`Bundle.entry[${p.index}].resource.id`]);
      }
    }
    if (entry.fullUrl && p.id) ids.set(entry.fullUrl, `${p.type}/${p.id}`);
  }

  /**
   * Conditional references (`Patient?identifier=x|y`) must match exactly one resource. With `samePatient`, a reference
   * to a Patient-compartment type is looked up in the compartment of the referring entry's Patient only.
   */
  private async conditionalReferences(scope: GateScope, planned: PlannedEntry[], ids: Map<string, string>, opts: TransactionOptions): Promise<(p: PlannedEntry, ref: string) => string | undefined> {
    // Per entry: each conditional reference and the lookup it stands for (`Type?query`; undefined: no Patient to look in).
    const lookups = new Map<PlannedEntry, Map<string, string | undefined>>();
    for (const p of planned) {
      rewriteReferences(p.entry.resource, (ref) => {
        if (!/^[A-Z][A-Za-z]+\?/.test(ref)) return undefined;
        const type = ref.slice(0, ref.indexOf('?'));
        const query = ref.slice(ref.indexOf('?') + 1);
        const scoped = opts.samePatient && inPatientCompartment(type) ? withPatient(p, query, ids, this.fhirBase) : query;
        const lookup = lookups.get(p) ?? new Map<string, string | undefined>();
        lookups.set(p, lookup.set(ref, scoped === undefined ? undefined : `${type}?${scoped}`));
        return undefined;
      });
    }
    // Keyed by the lookup (by the reference itself when there is none: only an entry of this bundle can answer it).
    const resolved = new Map<string, string>();
    for (const lookup of lookups.values()) {
      for (const [ref, target] of lookup) {
        if (resolved.has(target ?? ref)) continue;
        const type = ref.slice(0, ref.indexOf('?'));
        const inBundle = planned.filter((p) => (p.type === type && `${type}?${p.entry.request?.ifNoneExist}` === ref) || p.entry.request?.url === ref);
        if (inBundle.length === 1 && inBundle[0].id) {
          resolved.set(target ?? ref, `${type}/${inBundle[0].id}`);
          continue;
        }
        const found = target === undefined ? [] : (await scope.searchType(type, conditionalQuery(type, target.slice(type.length + 1)), false)).matches;
        if (found.length !== 1) {
          throw fhirError(412, 'not-found', `Conditional reference ${type}?… matched ${found.length} resources; it must match exactly one.`);
        }
        resolved.set(target ?? ref, `${type}/${found[0].id}`);
      }
    }
    return (p, ref) => {
      const lookup = lookups.get(p);
      return lookup?.has(ref) ? resolved.get(lookup.get(ref) ?? ref) : undefined;
    };
  }

  /** Deletes and reads. */
  private async apply(scope: GateScope, p: PlannedEntry): Promise<BundleEntry> {
    if (p.method === 'DELETE') {
      if (!p.id) throw badRequest(`Bundle entry ${p.index}: DELETE needs Type/id.`);
      await scope.remove(p.type, p.id);
      return { response: { status: '204 No Content' } };
    }
    if (!p.id) throw badRequest(`Bundle entry ${p.index}: only reads (Type/id) are supported as GET entries.`);
    const resource = await scope.read(p.type, p.id);
    return { resource, response: { status: '200 OK' } };
  }

  /** A conditional create that matched a stored resource: nothing written. */
  private matchedResponse(p: PlannedEntry, existing: Resource): BundleEntry {
    return { fullUrl: `${this.fhirBase}/${p.type}/${existing.id}`, response: { status: '200 OK', location: `${p.type}/${existing.id}/_history/${existing.meta?.versionId ?? '1'}` } };
  }

  /** A conditional create that resolved to an earlier entry of the same bundle: that entry's resource, nothing written. */
  private sameAsResponse(p: PlannedEntry, first: BundleEntry): BundleEntry {
    return { fullUrl: first.fullUrl ?? `${this.fhirBase}/${p.type}/${p.id}`, response: { status: '200 OK', location: first.response?.location } };
  }

  private async batch(ctx: AccessContext, entries: BundleEntry[], prefer: ReturnPreference | undefined): Promise<Bundle> {
    const out: BundleEntry[] = [];
    for (const entry of entries) {
      try {
        const [response] = await this.gate.run(ctx, { action: 'create', query: 'batch' }, (scope) => this.transaction(scope, [entry], { return: prefer }));
        out.push(response);
      } catch (err) {
        if (!(err instanceof FhirError)) throw err;
        out.push({ response: { status: String(err.status), outcome: err.outcome } });
      }
    }
    return { resourceType: 'Bundle', type: 'batch-response', entry: out.length ? out : [{ response: { status: '200', outcome: allOk('Empty batch') } }] };
  }
}

/** Adds to each written or matched entry's response what `Prefer: return=` asked for (reads and deletes stay as they are). */
function withPreferred(planned: PlannedEntry[], responses: BundleEntry[], written: Array<{ p: PlannedEntry; slot: WriteSlot }>, prefer: 'representation' | 'OperationOutcome'): void {
  const writes = new Map(written.map(({ p, slot }) => [p, slot.outcome?.resource]));
  const resourceOf = (p: PlannedEntry): Resource | undefined => writes.get(p) ?? p.existing ?? (p.sameAs && resourceOf(p.sameAs));
  for (const p of planned) {
    const resource = resourceOf(p);
    const entry = responses[p.index];
    if (!resource || !entry.response) continue;
    responses[p.index] = prefer === 'representation' ? { ...entry, resource }
      : { ...entry, response: { ...entry.response, outcome: allOk(`${entry.response.status}: ${resource.resourceType}/${resource.id}`) } };
  }
}

/** What a submitted transaction wrote (versioned references), when, and who sent it. */
function submissionProvenance(written: BundleEntry[], source: NonNullable<TransactionOptions['provenance']>, now: Date): Provenance {
  const created = written.every((e) => e.response?.status === '201 Created');
  return {
    resourceType: 'Provenance',
    target: written.map((e) => ({ reference: e.response!.location! })),
    recorded: now.toISOString(),
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: created ? 'CREATE' : 'UPDATE' }] },
    agent: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }] }, who: { reference: `Organization/${source.organizationId}` } }],
    ...(source.bundle?.value ? { entity: [{ role: 'source' as const, what: { identifier: source.bundle, display: 'FHIR transaction Bundle' } }] } : {}),
  };
}
