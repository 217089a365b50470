import type { Patient, Resource } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import type { WriteInput } from '../access/write-batch.ts';
import { preconditionFailed } from '../fhir/outcome.ts';
import { NO_CHOICES, type ConsentState } from '../privacy/consent.ts';
import { withinMessage } from '../privacy/intake.ts';
import { labelsForNamedBinaries, propagatingKeys } from '../privacy/labels/propagate.ts';
import type { StoredRow } from '../store/resource-store.ts';
import { ownerReferences } from './compartment.ts';
import type { CompartmentResolver, IntakeOutcome, PatientLinker, SubscriptionHooks, WriteFacts, WritePolicy } from './hooks.ts';

export interface RecordDeps {
  linker: PatientLinker;
  policy: WritePolicy;
  compartment: CompartmentResolver;
  subscriptions?: SubscriptionHooks;
}

export interface WriteOutcome {
  resource: Resource;
  status: 200 | 201;
  /** True when the data was not stored because of the person's privacy choices (the sender is not told). */
  discarded?: boolean;
}

/** A validated write waiting for the queue's next flush. */
export interface QueuedWrite {
  resource: Resource & { id: string };
  /** An update reads (and locks) the current row first; a create writes a new id. */
  kind: 'create' | 'update';
  ifMatch?: string;
  /** Server-derived resources (a Consent recorded by a privacy officer's operation) skip the role check. */
  derived?: boolean;
  /** Its own labels when already known (labelled with the rest of its bundle), so the codes are not classified twice. */
  ownLabels?: string[];
}

/** Where a queued write's outcome appears once the queue has been flushed. */
export interface WriteSlot {
  outcome?: WriteOutcome;
}

type CurrentRow = StoredRow & { source_org?: string | null };

interface Decided {
  item: QueuedWrite;
  slot: WriteSlot;
  previous?: CurrentRow;
  status: 200 | 201;
  facts: WriteFacts;
  clinicalDate?: string;
}

const keyOf = (r: Resource) => `${r.resourceType}/${r.id}`;

/**
 * Collects the validated writes of one gate transaction and stores them together: per flush, one statement per
 * table for all of them, and the MPI person, privacy state and referenced labels read once per batch instead of
 * once per resource. The outcome is the one writing them one by one in queue order would give:
 * - a Patient is written alone after everything queued before it (the MPI reads it back and links it, and later
 *   resources of that patient need the link), and so is a Consent (it changes the privacy state later writes are
 *   decided against, and may purge);
 * - a second write of a queued resource flushes the first;
 * - inside a batch, what a resource inherits (labels, owner Patient) from a resource queued before it comes from
 *   that resource as it will be stored; everything else is read from the database as it was before the batch.
 */
export class WriteQueue {
  private queued: Array<{ item: QueuedWrite; slot: WriteSlot }> = [];
  private keys = new Set<string>();

  constructor(
    private readonly scope: GateScope,
    private readonly deps: RecordDeps,
  ) {}

  async add(item: QueuedWrite): Promise<WriteSlot> {
    const type = item.resource.resourceType;
    if (this.keys.has(keyOf(item.resource)) || type === 'Patient' || type === 'Consent') await this.flush();
    const slot: WriteSlot = {};
    if (type === 'Patient') {
      slot.outcome = await this.writePatient(item);
      return slot;
    }
    this.queued.push({ item, slot });
    this.keys.add(keyOf(item.resource));
    if (type === 'Consent') await this.flush();
    return slot;
  }

  async flush(): Promise<void> {
    const batch = this.queued;
    this.queued = [];
    this.keys = new Set();
    if (batch.length > 0) await this.writeBatch(batch);
  }

  private async writeBatch(batch: Array<{ item: QueuedWrite; slot: WriteSlot }>): Promise<void> {
    const { scope, deps } = this;
    // The persons first: their link rows and privacy locks come before the rows an update locks, the order a move
    // takes them in (link rows, privacy locks, then the rows it re-homes); the other way round they deadlocked.
    const persons = new PersonCache(scope, deps);
    const compartments = batch.map((b) => deps.compartment(b.item.resource));
    await persons.load(compartments, compartments.filter((_, i) => batch[i].item.resource.resourceType === 'Consent'));
    const updates = batch.filter((b) => b.item.kind === 'update').map((b) => ({ resourceType: b.item.resource.resourceType, id: b.item.resource.id }));
    const current = updates.length > 0 ? await scope.currentForWriteMany(updates) : new Map<string, CurrentRow>();
    const receivedAt = scope.settings.now.toISOString();
    const decided: Array<Decided & { outcome: IntakeOutcome }> = [];
    const storedPatient = new Map<string, string | undefined>();
    for (const [i, { item, slot }] of batch.entries()) {
      const previous = item.kind === 'update' ? current.get(keyOf(item.resource)) : undefined;
      checkIfMatch(item, previous);
      const status = previous && !previous.deleted ? 200 : 201;
      const sourceOrg = scope.ctx.organizationId ?? previous?.source_org ?? undefined;
      const patientId = compartments[i] ?? (await this.ownerPatient(ownerReferences(item.resource), storedPatient));
      const personId = patientId ? await persons.personOf(patientId) : undefined;
      const clinicalDate = deps.policy.clinicalDate(item.resource, receivedAt);
      const outcome = personId ? deps.policy.intake(scope, item.resource, await persons.privacy(personId)) : 'store';
      decided.push({ item, slot, previous, status, facts: { patientId, personId, sourceOrg }, clinicalDate, outcome });
      if (outcome === 'store') storedPatient.set(keyOf(item.resource), patientId);
    }
    // A Binary and a Provenance have no clinical date of their own: they follow what they belong to in the batch (the
    // base: a URL under another server's names nothing of this batch).
    const final = withinMessage(decided.map((d) => d.item.resource), decided.map((d) => d.outcome), (o) => o === 'store', this.scope.fhirBase);
    const stored: Decided[] = [];
    const discarded: Array<{ reason: IntakeOutcome; resourceType: string }> = [];
    decided.forEach((d, i) => {
      const { decision, resource } = final[i];
      if (decision !== 'store') {
        discarded.push({ reason: decision, resourceType: resource.resourceType });
        d.slot.outcome = { resource, status: d.status, discarded: true };
      } else stored.push({ ...d, item: { ...d.item, resource: resource as QueuedWrite['resource'] } });
    });
    await deps.policy.countDiscarded(scope, discarded);
    const labels = await this.labels(stored);
    // A labelled document's Binary (a PDF or text has no codes) is as sensitive as the document: one written in this
    // batch is stored with the labels, one stored earlier gains them in place below.
    const toBinaries = labelsForNamedBinaries(stored.map((d, i) => ({ resource: d.item.resource, labels: labels[i] })), this.scope.fhirBase);
    stored.forEach((d, i) => {
      const add = toBinaries.get(keyOf(d.item.resource));
      if (!add) return;
      labels[i] = [...new Set([...labels[i], ...add])].sort();
      toBinaries.delete(keyOf(d.item.resource));
    });
    const inputs: WriteInput[] = stored.map((d, i) => ({
      resource: d.item.resource, patientId: d.facts.patientId, personId: d.facts.personId, sourceOrg: d.facts.sourceOrg,
      security: labels[i], clinicalDate: d.clinicalDate, previous: d.previous, action: d.status === 201 ? 'create' : 'update', derived: d.item.derived,
    }));
    const written = await scope.writeMany(inputs);
    if (toBinaries.size > 0) await scope.addStoredLabels(toBinaries);
    await deps.policy.afterWrite(scope, written.map((resource, i) => ({ resource, facts: stored[i].facts })));
    await deps.subscriptions?.written(scope, written);
    written.forEach((resource, i) => {
      stored[i].slot.outcome = { resource, status: stored[i].status };
    });
  }

  /**
   * The owner Patient of a Provenance or Binary: the first of its references that has one. A resource stored
   * earlier in this batch answers for itself; anything else is looked up as stored.
   */
  private async ownerPatient(references: string[], storedPatient: Map<string, string | undefined>): Promise<string | undefined> {
    for (const ref of references) {
      if (storedPatient.has(ref)) {
        const patientId = storedPatient.get(ref);
        if (patientId) return patientId;
        continue;
      }
      const found = await this.scope.compartmentOf([ref]);
      if (found) return found;
    }
    return undefined;
  }

  /**
   * Each resource's labels: its own plus the sensitive labels of what it references, taken from a resource stored
   * earlier in this batch when it is one, else from the database (one statement for the batch). References are read
   * as the rows' keys (`propagatingKeys`): a versioned or absolute local reference names the same row.
   */
  private async labels(writes: Decided[]): Promise<string[][]> {
    const { policy } = this.deps;
    const references = writes.map((d) => propagatingKeys(d.item.resource, this.scope.fhirBase));
    const inStore = await this.scope.labelsByReference(references.flat());
    const earlier = new Map<string, string[]>();
    return writes.map(({ item, previous }, i) => {
      const inherited = references[i].flatMap((ref) => policy.inheritedLabels(earlier.get(ref) ?? inStore.get(ref) ?? []));
      // A new version of a Binary keeps the labels documents passed to it: its content cannot give them again.
      const kept = item.resource.resourceType === 'Binary' ? policy.inheritedLabels(previous?.security ?? []) : [];
      const labels = [...new Set([...(item.ownLabels ?? policy.ownLabels(item.resource)), ...inherited, ...kept])].sort();
      earlier.set(keyOf(item.resource), labels);
      return labels;
    });
  }

  private async writePatient(item: QueuedWrite): Promise<WriteOutcome> {
    const { scope, deps } = this;
    const patient = item.resource as Patient & { id: string };
    const previous = item.kind === 'update' ? (await scope.currentForWriteMany([{ resourceType: 'Patient', id: patient.id }])).get(keyOf(patient)) : undefined;
    checkIfMatch(item, previous);
    const status = previous && !previous.deleted ? 200 : 201;
    const sourceOrg = scope.ctx.organizationId ?? previous?.source_org ?? undefined;
    const written = (await scope.write({
      resource: patient, patientId: patient.id, personId: previous?.person_id ?? undefined, sourceOrg, security: [], previous,
      action: status === 201 ? 'create' : 'update',
    })) as Patient & { id: string };
    // The MPI sees the record as sent (with its SSN); storage only ever holds the sealed copy.
    const personId = await deps.linker.link(scope, { ...patient, meta: written.meta });
    await deps.policy.afterWrite(scope, [{ resource: written, facts: { patientId: patient.id, personId, sourceOrg } }]);
    await deps.subscriptions?.written(scope, [written]);
    return { resource: written, status };
  }
}

function checkIfMatch(item: QueuedWrite, current: StoredRow | undefined): void {
  if (item.ifMatch === undefined) return;
  const expected = /^(W\/)?"?([^"]+)"?$/.exec(item.ifMatch.trim())?.[2];
  if (!current || current.deleted || String(current.version_id) !== expected) {
    throw preconditionFailed(`Version conflict: If-Match ${item.ifMatch.slice(0, 40)} but current version is ${current?.version_id ?? 'none'}.`);
  }
}

/**
 * MPI persons of source Patients and their privacy state, read once per batch. Links do not change inside one: each
 * is read with its row locked until commit (`personsForWrite`), so no move re-homes the record until the batch's
 * rows are committed, and they are then re-homed with the rest.
 */
class PersonCache {
  private readonly persons = new Map<string, string | undefined>();
  private readonly states = new Map<string, ConsentState>();

  constructor(
    private readonly scope: GateScope,
    private readonly deps: RecordDeps,
  ) {}

  /**
   * Reads the persons of the given patients in one statement, then all their privacy states in one statement;
   * `choosers` are the patients whose Consents the batch holds (their persons' state is locked for recomputing).
   */
  async load(patientIds: Array<string | undefined>, choosers: Array<string | undefined> = []): Promise<void> {
    await this.read(patientIds.filter((p): p is string => !!p));
    const personIds = [...new Set([...this.persons.values()])].filter((p): p is string => !!p && !this.states.has(p));
    const choosing = new Set(choosers.flatMap((p) => { const person = p ? this.persons.get(p) : undefined; return person ? [person] : []; }));
    for (const [personId, state] of await this.deps.policy.privacy(this.scope, personIds, choosing)) this.states.set(personId, state);
  }

  async personOf(patientId: string): Promise<string | undefined> {
    await this.read([patientId]);
    return this.persons.get(patientId);
  }

  private async read(patientIds: string[]): Promise<void> {
    const unknown = [...new Set(patientIds)].filter((p) => !this.persons.has(p));
    if (unknown.length === 0) return;
    const found = await this.deps.linker.personsForWrite(this.scope, unknown);
    for (const patientId of unknown) this.persons.set(patientId, found.get(patientId));
  }

  async privacy(personId: string): Promise<ConsentState> {
    const known = this.states.get(personId);
    if (known) return known;
    const state = (await this.deps.policy.privacy(this.scope, [personId])).get(personId) ?? NO_CHOICES;
    this.states.set(personId, state);
    return state;
  }
}
