import type { Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';

/** One notification to send: a subscription and the resource that may match it. */
export interface OutboxRow {
  seq: number;
  subscription_id: string;
  resource_type: string;
  id: string;
  attempts: number;
}

/** Queues one notification per (subscription, resource), in the caller's transaction. */
export async function enqueue(tx: Queryable, items: Array<{ subscriptionId: string; resourceType: string; id: string }>): Promise<void> {
  if (items.length === 0) return;
  await run(tx, sql`insert into notification_outbox (subscription_id, resource_type, id)
    select * from unnest(${items.map((i) => i.subscriptionId)}::text[], ${items.map((i) => i.resourceType)}::text[], ${items.map((i) => i.id)}::text[])`);
}

/**
 * Takes up to `limit` due notifications for this worker: each is leased (not due again for `leaseSeconds`) and its
 * attempt counted before it is sent, so a worker that stops mid-send leaves it to be sent again, never lost.
 */
export async function takeDue(db: Queryable, limit: number, leaseSeconds: number): Promise<OutboxRow[]> {
  return run<OutboxRow>(db, sql`update notification_outbox set attempts = attempts + 1,
      next_attempt = now() + make_interval(secs => ${leaseSeconds})
    where seq in (select seq from notification_outbox where next_attempt <= now() order by seq limit ${limit} for update skip locked)
    returning seq::int as seq, subscription_id, resource_type, id, attempts`);
}

/** Removes notifications that were sent, or decided against. */
export async function done(db: Queryable, seqs: number[]): Promise<void> {
  if (seqs.length) await run(db, sql`delete from notification_outbox where seq = any(${seqs}::bigint[])`);
}

/** Schedules another attempt; `error` is a status or error name, never content. */
export async function retryLater(db: Queryable, seq: number, delaySeconds: number, error: string): Promise<void> {
  await run(db, sql`update notification_outbox set next_attempt = now() + make_interval(secs => ${delaySeconds}), last_error = ${error.slice(0, 200)} where seq = ${seq}`);
}

/** Drops every pending notification of a subscription (it ended, was deleted or failed for good). */
export async function dropSubscription(db: Queryable, subscriptionId: string): Promise<void> {
  await run(db, sql`delete from notification_outbox where subscription_id = ${subscriptionId}`);
}

/**
 * Records a subscription as written: the type it watches and whether it is live. The client that created it stays its
 * owner when another system of its organization (or the server, setting `error`) changes it.
 */
export async function indexSubscription(tx: Queryable, s: { id: string; clientId: string; resourceType: string; live: boolean }): Promise<void> {
  await run(tx, sql`insert into subscription_index (subscription_id, client_id, resource_type, live)
    values (${s.id}, ${s.clientId}, ${s.resourceType}, ${s.live})
    on conflict (subscription_id) do update set resource_type = excluded.resource_type, live = excluded.live, updated_at = now()`);
}

/** A subscription found deleted or ended when a notification was due. */
export async function unindexSubscription(db: Queryable, subscriptionId: string): Promise<void> {
  await run(db, sql`update subscription_index set live = false, updated_at = now() where subscription_id = ${subscriptionId}`);
}

/** Live subscriptions by the type they watch. */
export async function liveSubscriptions(db: Queryable): Promise<Array<{ subscription_id: string; resource_type: string }>> {
  return run(db, sql`select subscription_id, resource_type from subscription_index where live`);
}

export async function ownerOf(db: Queryable, subscriptionId: string): Promise<string | undefined> {
  return (await run<{ client_id: string }>(db, sql`select client_id from subscription_index where subscription_id = ${subscriptionId}`))[0]?.client_id;
}
