import type { Resource, Subscription } from '@medplum/fhirtypes';
import { isStorableType } from '../fhir/definitions.ts';
import { unprocessable } from '../fhir/outcome.ts';

/** What a Subscription's criteria select: a resource type and search parameters. */
export interface Criteria {
  type: string;
  query: Array<[string, string]>;
}

/** Types no one is notified about: the audit log, and subscriptions themselves. */
const NOT_NOTIFIED = ['AuditEvent', 'Subscription'];
const PAYLOADS = ['application/fhir+json', 'application/json'];
const HEADER = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):\s*([^\r\n]*)$/;
/** Headers the server sets itself on a notification. */
const RESERVED_HEADERS = ['content-type', 'content-length', 'host', 'transfer-encoding', 'connection'];

/** `Observation?code=…` → type and parameters; throws 422 naming `Subscription.criteria` when it is not one. */
export function parseCriteria(criteria: string | undefined): Criteria {
  const m = /^([A-Za-z]+)(?:\?(.*))?$/.exec(criteria ?? '');
  if (!m) throw unprocessable('Subscription.criteria must be a search: a resource type, optionally followed by ?parameters.', ['Subscription.criteria']);
  if (!isStorableType(m[1]) || NOT_NOTIFIED.includes(m[1])) throw unprocessable(`Subscription.criteria names ${JSON.stringify(m[1].slice(0, 60))}, which cannot be subscribed to.`, ['Subscription.criteria']);
  const query = [...new URLSearchParams(m[2] ?? '')];
  for (const [name] of query) {
    if (['_count', '_sort', '_include', '_revinclude', '_summary', '_elements', '_total', '_offset'].includes(name.split(':')[0])) {
      throw unprocessable(`Subscription.criteria may not use ${name}: it selects resources, it does not shape results.`, ['Subscription.criteria']);
    }
  }
  return { type: m[1], query };
}

export interface SubscriptionChecks {
  /** Plain http endpoints allowed (never in production: everything travels encrypted). */
  allowHttp: boolean;
  /** Throws when the criteria's parameters are not a valid search of the type (the search engine, strict). */
  checkSearch(criteria: Criteria): void;
}

/**
 * Checks a Subscription before it is stored and accepts it: only REST hooks (R4 `rest-hook`) to an https endpoint
 * (http outside production), a FHIR JSON payload or none, well-formed headers, and criteria the search engine
 * understands. A `requested` subscription is stored `active` (the server accepts it on write).
 */
export function acceptSubscription(sub: Subscription, checks: SubscriptionChecks): Subscription {
  const channel = sub.channel;
  if (channel?.type !== 'rest-hook') throw unprocessable('Only rest-hook subscriptions are supported.', ['Subscription.channel.type']);
  let url: URL;
  try {
    url = new URL(channel.endpoint ?? '');
  } catch {
    throw unprocessable('Subscription.channel.endpoint must be an absolute URL.', ['Subscription.channel.endpoint']);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && checks.allowHttp)) {
    throw unprocessable(`Subscription.channel.endpoint must use https${checks.allowHttp ? ' or http' : ''}: notifications carry health information.`, ['Subscription.channel.endpoint']);
  }
  if (url.username || url.password) throw unprocessable('Put credentials in Subscription.channel.header, not in the endpoint URL.', ['Subscription.channel.endpoint']);
  if (channel.payload && !PAYLOADS.includes(channel.payload)) {
    throw unprocessable(`Subscription.channel.payload must be empty (notify only) or one of ${PAYLOADS.join(', ')}.`, ['Subscription.channel.payload']);
  }
  for (const [i, h] of (channel.header ?? []).entries()) {
    const m = HEADER.exec(h);
    if (!m || RESERVED_HEADERS.includes(m[1].toLowerCase())) throw unprocessable('Each Subscription.channel.header is "Name: value" with a name the server does not set itself.', [`Subscription.channel.header[${i}]`]);
  }
  checks.checkSearch(parseCriteria(sub.criteria));
  return sub.status === 'requested' ? { ...sub, status: 'active' } : sub;
}

/** Whether a subscription is to be served now. */
export function isLive(sub: Subscription, now: Date): boolean {
  return sub.status === 'active' && (!sub.end || Date.parse(sub.end) > now.getTime());
}

export interface NotificationRequest {
  method: 'POST' | 'PUT';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * The HTTP request of one R4 rest-hook notification: without payload an empty POST to the endpoint (the
 * subscriber then reads what changed, through the API, under its own access); with a payload the resource is
 * PUT to `{endpoint}/{type}/{id}`.
 */
export function notificationRequest(sub: Subscription, resource: Resource): NotificationRequest {
  const headers: Record<string, string> = {};
  for (const h of sub.channel?.header ?? []) {
    const m = HEADER.exec(h);
    if (m) headers[m[1]] = m[2];
  }
  const endpoint = sub.channel?.endpoint ?? '';
  if (!sub.channel?.payload) return { method: 'POST', url: endpoint, headers };
  return {
    method: 'PUT',
    url: `${endpoint.replace(/\/+$/, '')}/${resource.resourceType}/${resource.id}`,
    headers: { ...headers, 'content-type': `${sub.channel.payload}; charset=utf-8` },
    body: JSON.stringify(resource),
  };
}
