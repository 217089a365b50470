import type { Resource, Subscription } from '@medplum/fhirtypes';
import type { AccessContext } from '../access/context.ts';
import { systemContext } from '../access/context.ts';
import type { AccessGate } from '../access/gate.ts';
import { FhirError } from '../fhir/outcome.ts';
import type { RecordService } from '../record/record-service.ts';
import type { Database } from '../store/database.ts';
import type { Notifier } from './notifier.ts';
import { done, dropSubscription, ownerOf, retryLater, takeDue, unindexSubscription, type OutboxRow } from './outbox.ts';
import { isLive, notificationRequest, parseCriteria, type NotificationRequest } from './subscription-rules.ts';

export interface NotificationWorkerDeps {
  db: Database;
  gate: AccessGate;
  records: RecordService;
  notifier: Notifier;
  /** The subscribing client's standing now; undefined when it is unknown or disabled. */
  clientContext(clientId: string): Promise<AccessContext | undefined>;
  log: { warn(o: object, m: string): void; error(o: object, m: string): void };
  /** Sends one request; the HTTP status (tests substitute it). */
  send?: (req: NotificationRequest) => Promise<number>;
}

export interface WorkerOptions {
  intervalMs?: number;
  /** Attempts before the subscription is set to `error`. */
  maxAttempts?: number;
  /** Seconds before the first retry; doubled each attempt, at most an hour. */
  retryBaseSeconds?: number;
  /** How often the subscription index is re-read (subscriptions made through other server processes). */
  refreshMs?: number;
}

export interface NotificationWorker {
  stop(): Promise<void>;
}

const BATCH = 100;
/** Notifications of one subscription sent at once. */
const PARALLEL = 4;
/** A taken notification is not taken again for this long, unless the worker answers for it sooner. */
const LEASE_SECONDS = 120;
const SEND_TIMEOUT_MS = 10_000;
const SERVICE = systemContext('notification service');

/** A search parameter value is at most 4,096 characters: ids go in groups that fit. */
const ID_LIST_CHARS = 4000;

export function idChunks(ids: string[]): string[][] {
  const chunks: string[][] = [];
  let chunk: string[] = [];
  let length = 0;
  for (const id of ids) {
    if (chunk.length && length + id.length + 1 > ID_LIST_CHARS) {
      chunks.push(chunk);
      chunk = [];
      length = 0;
    }
    chunk.push(id);
    length += id.length + 1;
  }
  if (chunk.length) chunks.push(chunk);
  return chunks;
}

/** Sends with the platform's fetch: no redirects (a notification goes where the subscription says, nowhere else). */
async function fetchSend(req: NotificationRequest): Promise<number> {
  const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, redirect: 'manual', signal: AbortSignal.timeout(SEND_TIMEOUT_MS) });
  await res.body?.cancel();
  return res.status;
}

/**
 * Sends queued notifications. Each is decided when it is sent, under the subscribing client's standing at that
 * moment and through the access gate: the subscription must still be live, the resource must still match its criteria,
 * and the client must be allowed to see it whole now (care relationship, shared sensitive categories, opt-out).
 * The release is audited as `notify` in the transaction that decided it, before the request leaves.
 */
export function startNotificationWorker(deps: NotificationWorkerDeps, opts: WorkerOptions = {}): NotificationWorker {
  const send = deps.send ?? fetchSend;
  const maxAttempts = opts.maxAttempts ?? 8;
  const retryBase = opts.retryBaseSeconds ?? 2;
  let stopped = false;
  let running: Promise<void> | undefined;

  /** Sets a subscription to `error` (visible to its owner) and drops what it still had queued. */
  async function endSubscription(id: string, error: string): Promise<void> {
    deps.notifier.forget(id);
    await unindexSubscription(deps.db, id);
    await dropSubscription(deps.db, id);
    await deps.gate.run(SERVICE, { action: 'update', query: `Subscription/${id} error` }, async (scope) => {
      const current = (await scope.searchType('Subscription', [['_id', id]], false)).matches[0] as Subscription | undefined;
      if (current && current.status !== 'error') await deps.records.update(scope, 'Subscription', id, { ...current, status: 'error', error });
    });
  }

  /**
   * What the subscriber may be sent about the queued resources of one subscription, decided and audited in one
   * transaction: its criteria searched among those ids, as the subscriber, whole resources only.
   */
  async function decide(ctx: AccessContext, subscriptionId: string, rows: OutboxRow[]): Promise<{ sub?: Subscription; resources: Map<string, Resource> }> {
    return deps.gate.run(ctx, { action: 'notify', query: `Subscription/${subscriptionId}` }, async (scope) => {
      const resources = new Map<string, Resource>();
      const sub = (await scope.searchType('Subscription', [['_id', subscriptionId]], false)).matches[0] as Subscription | undefined;
      if (!sub || !isLive(sub, new Date())) return { sub, resources };
      const criteria = parseCriteria(sub.criteria);
      const ids = [...new Set(rows.filter((r) => r.resource_type === criteria.type).map((r) => r.id))];
      for (const chunk of idChunks(ids)) {
        const found = await scope.searchType(criteria.type, [...criteria.query, ['_id', chunk.join(',')], ['_count', String(chunk.length)], ['_total', 'none']], false, { action: 'notify', wholeOnly: true });
        for (const r of found.matches) resources.set(`${r.resourceType}/${r.id}`, r);
      }
      return { sub, resources };
    });
  }

  /**
   * Sends one notification; on success its rows join `sent`, on failure the next attempt is scheduled, or after the
   * last the subscription ends (false).
   */
  async function deliver(sub: Subscription, resource: Resource, rows: OutboxRow[], sent: number[]): Promise<boolean> {
    let failure: string;
    try {
      const status = await send(notificationRequest(sub, resource));
      if (status >= 200 && status < 300) {
        sent.push(...rows.map((r) => r.seq));
        return true;
      }
      failure = `HTTP ${status}`;
    } catch (err) {
      failure = err instanceof Error ? err.name : 'send failed';
    }
    const attempts = Math.max(...rows.map((r) => r.attempts));
    if (attempts >= maxAttempts) {
      await endSubscription(sub.id!, `Notifications stopped after ${attempts} failed attempts (last: ${failure}).`);
      return false;
    }
    deps.log.warn({ subscription: sub.id, attempt: attempts, failure }, 'notification not delivered; will retry');
    for (const row of rows) await retryLater(deps.db, row.seq, Math.min(retryBase * 2 ** (attempts - 1), 3600), failure);
    return true;
  }

  /** The taken rows of one subscription: one decision, then one notification per resource (a resource queued twice goes once). */
  async function handleSubscription(subscriptionId: string, rows: OutboxRow[]): Promise<void> {
    const clientId = await ownerOf(deps.db, subscriptionId);
    const ctx = clientId ? await deps.clientContext(clientId) : undefined;
    if (!ctx) return endSubscription(subscriptionId, 'The subscribing client is no longer registered or is disabled.');
    let decided: { sub?: Subscription; resources: Map<string, Resource> };
    try {
      decided = await decide(ctx, subscriptionId, rows);
    } catch (err) {
      // A refusal (the client's scopes no longer reach the type, criteria no longer valid) ends the subscription.
      if (err instanceof FhirError) return endSubscription(subscriptionId, `Notifications stopped: ${err.message}`);
      throw err;
    }
    const { sub, resources } = decided;
    if (!sub || !isLive(sub, new Date())) {
      deps.notifier.forget(subscriptionId);
      await unindexSubscription(deps.db, subscriptionId);
      return dropSubscription(deps.db, subscriptionId);
    }
    const byResource = new Map<string, OutboxRow[]>();
    for (const row of rows) byResource.set(`${row.resource_type}/${row.id}`, [...(byResource.get(`${row.resource_type}/${row.id}`) ?? []), row]);
    const pending = [...byResource];
    const finished: number[] = [];
    let ended = false;
    await Promise.all(Array.from({ length: Math.min(PARALLEL, pending.length) }, async () => {
      for (let next = pending.shift(); next && !stopped && !ended; next = pending.shift()) {
        const [key, keyRows] = next;
        const resource = resources.get(key);
        // Not matching, or not the subscriber's to see: nothing is sent, and nothing says why.
        if (!resource) finished.push(...keyRows.map((r) => r.seq));
        else if (!(await deliver(sub, resource, keyRows, finished))) ended = true;
      }
    }));
    if (!ended) await done(deps.db, finished);
  }

  /** Sends what is due; whether anything was. */
  async function drain(): Promise<boolean> {
    let found = false;
    for (;;) {
      const rows = await takeDue(deps.db, BATCH, LEASE_SECONDS);
      found ||= rows.length > 0;
      const bySubscription = new Map<string, OutboxRow[]>();
      for (const row of rows) bySubscription.set(row.subscription_id, [...(bySubscription.get(row.subscription_id) ?? []), row]);
      for (const [subscriptionId, subRows] of bySubscription) {
        if (stopped) return found;
        await handleSubscription(subscriptionId, subRows)
          .catch((err: unknown) => deps.log.error({ subscription: subscriptionId, err: err instanceof Error ? err.name : 'error' }, 'notifications failed; they stay queued'));
      }
      if (rows.length < BATCH || stopped) return found;
    }
  }

  // With no live subscription and nothing found queued last time, the queue is looked at only every 40th tick (10 s):
  // an idle server does not query it four times a second. Rows left from before (retries) are found on that round.
  let quietTicks = 0;
  let lastFound = true;
  const tick = () => {
    if (running || stopped) return;
    if (!lastFound && deps.notifier.watchedTypes().length === 0 && ++quietTicks % 40 !== 0) return;
    running = drain()
      .then((found) => { lastFound = found; })
      .catch((err: unknown) => deps.log.error({ err: err instanceof Error ? err.name : 'error' }, 'notification queue unavailable'))
      .finally(() => { running = undefined; });
  };
  const timer = setInterval(tick, opts.intervalMs ?? 250);
  timer.unref();
  // Subscriptions made or ended through another server process (same database) are picked up within this interval.
  const refresh = setInterval(() => {
    deps.notifier.load(deps.db).catch((err: unknown) => deps.log.error({ err: err instanceof Error ? err.name : 'error' }, 'subscription index unavailable'));
  }, opts.refreshMs ?? 5000);
  refresh.unref();
  // A write that queued notifications wakes the worker soon after (its transaction commits first; if not, the next tick finds them).
  deps.notifier.onQueued = () => setTimeout(tick, 5).unref();

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearInterval(refresh);
      deps.notifier.onQueued = undefined;
      await running;
    },
  };
}
