import type { Resource, Subscription } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import type { SubscriptionHooks } from '../record/hooks.ts';
import type { Queryable } from '../store/database.ts';
import { enqueue, indexSubscription, liveSubscriptions } from './outbox.ts';
import { acceptSubscription, isLive, parseCriteria, type SubscriptionChecks } from './subscription-rules.ts';

/** Longer than any write transaction: by then a subscription written here is committed (or rolled back). */
const RECENT_MS = 60_000;

/**
 * The write path's side of notifications: which resource types live subscriptions watch (kept in memory, so a
 * write of a type no one watches costs nothing), and queuing a notification per watching subscription in the
 * write's own transaction. Whether a notification is sent, and what it carries, is decided when it is sent.
 */
export class Notifier implements SubscriptionHooks {
  private byType = new Map<string, Set<string>>();
  /**
   * Subscriptions this process wrote lately: a re-read of the index may run before their transaction commits, so
   * they are applied over what it read until they are surely visible there.
   */
  private readonly recent = new Map<string, { type: string; live: boolean; at: number }>();
  /** Called when a write queued notifications (the worker wakes up). */
  onQueued: (() => void) | undefined;

  constructor(private readonly checks: SubscriptionChecks, private readonly clock: () => Date = () => new Date()) {}

  accept(subscription: Subscription): Subscription {
    return acceptSubscription(subscription, this.checks);
  }

  async written(scope: GateScope, resources: Resource[]): Promise<void> {
    const items: Array<{ subscriptionId: string; resourceType: string; id: string }> = [];
    for (const r of resources) {
      if (r.resourceType === 'Subscription') {
        const live = isLive(r, this.clock());
        const resourceType = parseCriteria(r.criteria).type;
        await indexSubscription(scope.tx, { id: r.id!, clientId: scope.ctx.clientId ?? '', resourceType, live });
        this.watch(r.id!, resourceType, live);
        continue;
      }
      for (const subscriptionId of this.byType.get(r.resourceType) ?? []) items.push({ subscriptionId, resourceType: r.resourceType, id: r.id! });
    }
    if (items.length === 0) return;
    await enqueue(scope.tx, items);
    this.onQueued?.();
  }

  private watch(id: string, type: string, live: boolean): void {
    this.recent.set(id, { type, live, at: this.clock().getTime() });
    this.apply(id, type, live);
  }

  private apply(id: string, type: string, live: boolean): void {
    this.forget(id);
    if (!live) return;
    if (!this.byType.has(type)) this.byType.set(type, new Set());
    this.byType.get(type)!.add(id);
  }

  forget(id: string): void {
    for (const ids of this.byType.values()) ids.delete(id);
  }

  /** Resource types watched now (the worker idles when there are none). */
  watchedTypes(): string[] {
    return [...this.byType].filter(([, ids]) => ids.size > 0).map(([t]) => t).sort();
  }

  /**
   * Reads the live subscriptions from the index table: at start, and periodically, so subscriptions made or ended
   * through another server process are picked up (the table holds no resource content, so no gate is needed).
   */
  async load(db: Queryable): Promise<void> {
    const byType = new Map<string, Set<string>>();
    for (const row of await liveSubscriptions(db)) {
      if (!byType.has(row.resource_type)) byType.set(row.resource_type, new Set());
      byType.get(row.resource_type)!.add(row.subscription_id);
    }
    this.byType = byType;
    const now = this.clock().getTime();
    for (const [id, change] of this.recent) {
      if (now - change.at > RECENT_MS) this.recent.delete(id);
      else this.apply(id, change.type, change.live);
    }
  }
}
