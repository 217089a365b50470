import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import { badRequest, preconditionFailed, unprocessable } from '../fhir/outcome.ts';
import { parseSearch } from '../store/search/parse.ts';
import { assertResourceShape, validateOrThrow } from './validate.ts';
import { WriteQueue, type QueuedWrite, type RecordDeps, type WriteOutcome } from './write-queue.ts';

export type { RecordDeps, WriteOutcome } from './write-queue.ts';

/** Parameters that shape a result rather than select resources: meaningless (or harmful: `_summary=count`) in a condition. */
const SHAPING = new Set(['_sort', '_offset', '_summary', '_elements', '_include', '_revinclude']);

/**
 * The search of a conditional create, update or reference. The criteria are parsed strictly whatever the request's
 * `Prefer: handling`, and must select something: a misspelled or unsupported parameter would otherwise be dropped and
 * the condition match every resource of the type, which an update then overwrites. Only whether 0, 1 or more match
 * is asked for: no total, at most two rows.
 */
export function conditionalQuery(type: string, query: string): Array<[string, string]> {
  const pairs = [...new URLSearchParams(query)].filter(([k]) => k !== '_count' && k !== '_total');
  const shaping = pairs.find(([k]) => SHAPING.has(k.split(':')[0]));
  if (shaping) throw badRequest(`Conditional criteria select resources; '${shaping[0].slice(0, 40)}' is not allowed in them.`);
  if (parseSearch(type, pairs, { strict: true }).request.filters.length === 0) {
    throw badRequest(`Conditional criteria for ${type} need at least one search parameter with a value.`);
  }
  return [...pairs, ['_count', '2'], ['_total', 'none']];
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
    if (opts.ifNoneExist !== undefined) {
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

  /** Validates an update of `type/id` (nothing is written): the queued write for it. The body must carry the id (R4). */
  checkUpdate(type: string, id: string, body: unknown, ifMatch?: string): QueuedWrite {
    assertResourceShape(body, type);
    if (body.id === undefined) throw badRequest(`The resource must carry its id ("${id.slice(0, 64)}", as in the URL).`, ['id']);
    if (body.id !== id) throw badRequest(`The resource id "${String(body.id).slice(0, 64)}" does not match the URL id "${id.slice(0, 64)}".`, ['id']);
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

  /**
   * R4 conditional update: one match is updated (a body id must be that resource's, 400 otherwise), none is created
   * (under the body's id if it has one), several are a 412. `ifMatch` is checked as for a plain update; with no
   * match there is no version it could name.
   */
  async conditionalUpdate(scope: GateScope, type: string, query: string, body: unknown, ifMatch?: string): Promise<WriteOutcome> {
    assertResourceShape(body, type);
    const matches = await scope.searchType(type, conditionalQuery(type, query), false);
    if (matches.matches.length > 1) throw preconditionFailed(`Conditional update matched ${matches.matches.length} resources.`);
    const target = matches.matches[0];
    if (target) {
      if (body.id !== undefined && body.id !== target.id) {
        throw badRequest(`The resource id "${String(body.id).slice(0, 64)}" is not the id of the resource the condition matched.`, ['id']);
      }
      return this.update(scope, type, target.id!, { ...body, id: target.id }, ifMatch);
    }
    if (body.id) return this.update(scope, type, body.id, body, ifMatch);
    if (ifMatch !== undefined) throw preconditionFailed(`Version conflict: If-Match ${ifMatch.slice(0, 40)} but the condition matched no resource.`);
    return this.create(scope, body);
  }

  async conditionalMatch(scope: GateScope, type: string, query: string): Promise<Resource | undefined> {
    const found = await scope.searchType(type, conditionalQuery(type, query), false);
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
