import type { Resource, Subscription } from '@medplum/fhirtypes';
import type { AccessContext } from '../access/context.ts';
import { systemContext } from '../access/context.ts';
import type { AccessGate } from '../access/gate.ts';
import { FhirError } from '../fhir/outcome.ts';
import type { RecordService } from '../record/record-service.ts';
import type { Database } from '../store/database.ts';
import type { Notifier } from './notifier.ts';
import { done, dropSubscription, ownerOf, retryLater, takeDue, type OutboxRow } from './outbox.ts';
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
}

export interface NotificationWorker {
  stop(): Promise<void>;
}

const BATCH = 20;
/** A taken notification is not taken again for this long, unless the worker answers for it sooner. */
const LEASE_SECONDS = 120;
const SEND_TIMEOUT_MS = 10_000;
const SERVICE = systemContext('notification service');

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
    await dropSubscription(deps.db, id);
    await deps.gate.run(SERVICE, { action: 'update', query: `Subscription/${id} error` }, async (scope) => {
      const current = (await scope.searchType('Subscription', [['_id', id]], false)).matches[0] as Subscription | undefined;
      if (current && current.status !== 'error') await deps.records.update(scope, 'Subscription', id, { ...current, status: 'error', error });
    });
  }

  /** What the subscriber may be sent about one queued resource, decided and audited in one transaction. */
  async function decide(ctx: AccessContext, row: OutboxRow): Promise<{ sub?: Subscription; resource?: Resource }> {
    return deps.gate.run(ctx, { action: 'notify', query: `Subscription/${row.subscription_id}` }, async (scope) => {
      const sub = (await scope.searchType('Subscription', [['_id', row.subscription_id]], false)).matches[0] as Subscription | undefined;
      if (!sub || !isLive(sub, new Date())) return { sub };
      const criteria = parseCriteria(sub.criteria);
      if (criteria.type !== row.resource_type) return { sub };
      const found = await scope.searchType(criteria.type, [...criteria.query, ['_id', row.id], ['_total', 'none']], false, { action: 'notify', wholeOnly: true });
      return { sub, resource: found.matches[0] };
    });
  }

  async function handle(row: OutboxRow): Promise<void> {
    const clientId = await ownerOf(deps.db, row.subscription_id);
    const ctx = clientId ? await deps.clientContext(clientId) : undefined;
    if (!ctx) return endSubscription(row.subscription_id, 'The subscribing client is no longer registered or is disabled.');
    let decided: { sub?: Subscription; resource?: Resource };
    try {
      decided = await decide(ctx, row);
    } catch (err) {
      // A refusal (the client's scopes no longer reach the type, criteria no longer valid) ends the subscription.
      if (err instanceof FhirError) return endSubscription(row.subscription_id, `Notifications stopped: ${err.message}`);
      throw err;
    }
    const { sub, resource } = decided;
    if (!sub || !isLive(sub, new Date())) {
      deps.notifier.forget(row.subscription_id);
      return dropSubscription(deps.db, row.subscription_id);
    }
    if (!resource) return done(deps.db, row.seq);
    let failure: string;
    try {
      const status = await send(notificationRequest(sub, resource));
      if (status >= 200 && status < 300) return done(deps.db, row.seq);
      failure = `HTTP ${status}`;
    } catch (err) {
      failure = err instanceof Error ? err.name : 'send failed';
    }
    if (row.attempts >= maxAttempts) {
      return endSubscription(row.subscription_id, `Notifications stopped after ${row.attempts} failed attempts (last: ${failure}).`);
    }
    deps.log.warn({ subscription: row.subscription_id, attempt: row.attempts, failure }, 'notification not delivered; will retry');
    await retryLater(deps.db, row.seq, Math.min(retryBase * 2 ** (row.attempts - 1), 3600), failure);
  }

  async function drain(): Promise<void> {
    for (;;) {
      const rows = await takeDue(deps.db, BATCH, LEASE_SECONDS);
      for (const row of rows) {
        if (stopped) return;
        await handle(row).catch((err: unknown) => deps.log.error({ subscription: row.subscription_id, err: err instanceof Error ? err.name : 'error' }, 'notification failed; it stays queued'));
      }
      if (rows.length < BATCH || stopped) return;
    }
  }

  const timer = setInterval(() => {
    if (running || stopped) return;
    running = drain()
      .catch((err: unknown) => deps.log.error({ err: err instanceof Error ? err.name : 'error' }, 'notification queue unavailable'))
      .finally(() => { running = undefined; });
  }, opts.intervalMs ?? 250);
  timer.unref();

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
