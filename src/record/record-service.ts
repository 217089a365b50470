import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import { badRequest, preconditionFailed, unprocessable } from '../fhir/outcome.ts';
import { assertResourceShape, validateOrThrow } from './validate.ts';
import { WriteQueue, type QueuedWrite, type RecordDeps, type WriteOutcome } from './write-queue.ts';

export type { RecordDeps, WriteOutcome } from './write-queue.ts';

/** A conditional operation only needs to know whether 0, 1 or more resources match: no total, at most two rows. */
export function conditionalQuery(query: string): Array<[string, string]> {
  return [...[...new URLSearchParams(query)].filter(([k]) => k !== '_count' && k !== '_total'), ['_count', '2'], ['_total', 'none']];
}

/**
 * FHIR write semantics over the gate: validation, ids and versions, conditional create/update, If-Match,
 * MPI linking of Patients and the privacy intake decision. Reads are thin wrappers kept here so routes,
 * transactions and ingestion share one path. Every write goes through a `WriteQueue`; a single write is a
 * queue of one, a transaction bundle queues all its writes after validating every one of them.
 */
export class RecordService {
  constructor(private readonly deps: RecordDeps) {}

  /** A queue for the writes of one gate transaction (bundles); flush it before reading what it wrote. */
  queue(scope: GateScope): WriteQueue {
    return new WriteQueue(scope, this.deps);
  }

  async create(scope: GateScope, body: unknown, opts: { ifNoneExist?: string; id?: string; derived?: boolean } = {}): Promise<WriteOutcome> {
    assertResourceShape(body);
    if (opts.ifNoneExist) {
      const existing = await this.conditionalMatch(scope, body.resourceType, opts.ifNoneExist);
      if (existing) return { resource: existing, status: 200 };
    }
    return this.writeOne(scope, this.checkCreate(body, opts.id, opts.derived));
  }

  async update(scope: GateScope, type: string, id: string, body: unknown, ifMatch?: string): Promise<WriteOutcome> {
    return this.writeOne(scope, this.checkUpdate(type, id, body, ifMatch));
  }

  /** Validates a create (nothing is written): the queued write for it. */
  checkCreate(body: unknown, id?: string, derived?: boolean): QueuedWrite {
    assertResourceShape(body);
    validateOrThrow(body);
    return { resource: { ...this.accepted(body), id: id ?? randomUUID() }, kind: 'create', derived };
  }

  /** Validates an update of `type/id` (nothing is written): the queued write for it. */
  checkUpdate(type: string, id: string, body: unknown, ifMatch?: string): QueuedWrite {
    assertResourceShape(body, type);
    if (body.id !== undefined && body.id !== id) throw badRequest(`The resource id "${String(body.id).slice(0, 64)}" does not match the URL id "${id}".`, ['id']);
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw badRequest('Invalid resource id.', ['id']);
    validateOrThrow(body);
    return { resource: { ...this.accepted(body), id }, kind: 'update', ifMatch };
  }

  /** A Subscription as the server accepts it (checked, `requested` → `active`); every other resource as it is. */
  private accepted(body: Resource): Resource {
    if (body.resourceType !== 'Subscription') return body;
    if (!this.deps.subscriptions) throw unprocessable('Subscriptions are not served by this process.');
    return this.deps.subscriptions.accept(body);
  }

  async conditionalUpdate(scope: GateScope, type: string, query: string, body: unknown): Promise<WriteOutcome> {
    assertResourceShape(body, type);
    const matches = await scope.searchType(type, conditionalQuery(query), false);
    if (matches.matches.length > 1) throw preconditionFailed(`Conditional update matched ${matches.matches.length} resources.`);
    const target = matches.matches[0];
    if (target) return this.update(scope, type, target.id!, { ...body, id: target.id }, undefined);
    if (body.id) return this.update(scope, type, body.id, body, undefined);
    return this.create(scope, body);
  }

  async conditionalMatch(scope: GateScope, type: string, query: string): Promise<Resource | undefined> {
    const found = await scope.searchType(type, conditionalQuery(query), false);
    if (found.matches.length > 1) throw preconditionFailed(`Conditional create matched ${found.matches.length} resources.`);
    return found.matches[0];
  }

  private async writeOne(scope: GateScope, item: QueuedWrite): Promise<WriteOutcome> {
    const queue = this.queue(scope);
    const slot = await queue.add(item);
    await queue.flush();
    if (!slot.outcome) throw new Error('write queue: no outcome after flush');
    return slot.outcome;
  }
}
