import type { Resource, Subscription } from '@medplum/fhirtypes';
import type { AccessGate } from '../access/gate.ts';
import type { GateScope } from '../access/gate-scope.ts';
import { systemContext } from '../access/context.ts';
import type { SubscriptionHooks } from '../record/hooks.ts';
import { enqueue, recordOwner } from './outbox.ts';
import { acceptSubscription, isLive, parseCriteria, type SubscriptionChecks } from './subscription-rules.ts';

const PAGE = 500;

/**
 * The write path's side of notifications: which resource types live subscriptions watch (kept in memory, so a
 * write of a type no one watches costs nothing), and queuing a notification per watching subscription in the
 * write's own transaction. Whether a notification is sent, and what it carries, is decided when it is sent.
 */
export class Notifier implements SubscriptionHooks {
  private readonly byType = new Map<string, Set<string>>();
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
        this.index(r);
        if (scope.ctx.clientId && !scope.ctx.internal) await recordOwner(scope.tx, r.id!, scope.ctx.clientId);
        continue;
      }
      for (const subscriptionId of this.byType.get(r.resourceType) ?? []) items.push({ subscriptionId, resourceType: r.resourceType, id: r.id! });
    }
    if (items.length === 0) return;
    await enqueue(scope.tx, items);
    this.onQueued?.();
  }

  /** Watches (or stops watching) for a subscription as it now stands. */
  index(sub: Subscription): void {
    this.forget(sub.id!);
    if (!isLive(sub, this.clock())) return;
    const { type } = parseCriteria(sub.criteria);
    if (!this.byType.has(type)) this.byType.set(type, new Set());
    this.byType.get(type)!.add(sub.id!);
  }

  forget(id: string): void {
    for (const ids of this.byType.values()) ids.delete(id);
  }

  /** Resource types watched now (for tests and the status log). */
  watchedTypes(): string[] {
    return [...this.byType].filter(([, ids]) => ids.size > 0).map(([t]) => t).sort();
  }

  /** Loads the live subscriptions at start (one audited internal search). */
  async load(gate: AccessGate): Promise<void> {
    await gate.run(systemContext('notification service'), { action: 'search', query: 'live subscriptions' }, async (scope) => {
      for (let offset = 0; ; offset += PAGE) {
        const page = await scope.searchType('Subscription', [['status', 'active'], ['_count', String(PAGE)], ['_offset', String(offset)], ['_total', 'none']], false);
        for (const sub of page.matches) this.index(sub as Subscription);
        if (page.matches.length < PAGE) return;
      }
    });
  }
}
