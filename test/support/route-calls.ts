import type { RouteInfo } from '../../src/http/routes/index.ts';
import type { TestServer } from './test-server.ts';

export interface CallResult {
  status: number;
  body: string;
  headers: Record<string, unknown>;
  json<T = Record<string, unknown>>(): T;
}

const segments = (url: string) => url.split('?')[0].split('/').filter(Boolean);

/** The registered route pattern a concrete request resolves to (static segments win over parameters, as in Fastify). */
export function routeFor(routes: RouteInfo[], method: string, url: string): RouteInfo | undefined {
  const parts = segments(url);
  const fits = (r: RouteInfo) => {
    if (r.method !== method) return false;
    const pattern = segments(r.url);
    if (pattern.at(-1) === '*') return parts.length >= pattern.length - 1 && pattern.slice(0, -1).every((p, i) => p === parts[i]);
    return pattern.length === parts.length && pattern.every((p, i) => p.startsWith(':') || p === decodeURIComponent(parts[i]));
  };
  const score = (r: RouteInfo) => segments(r.url).reduce((s, p, i) => s + (p.startsWith(':') || p === '*' ? 0 : 2 ** (10 - i)), 0);
  return routes.filter(fits).sort((a, b) => score(b) - score(a))[0];
}

export const routeKey = (r: Pick<RouteInfo, 'method' | 'url'>) => `${r.method} ${r.url}`;

/**
 * HTTP calls through `app.inject` that remember which registered route each one reached, so a suite can prove
 * it exercised every route (a new route that no test calls makes the coverage check fail).
 */
export class RouteCaller {
  readonly reached = new Set<string>();

  constructor(private readonly server: TestServer, private readonly routes: () => RouteInfo[]) {}

  async call(method: string, url: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<CallResult> {
    const route = routeFor(this.routes(), method, url);
    if (route) this.reached.add(routeKey(route));
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const res = await this.server.app.inject({
      method: method as 'GET',
      url,
      payload,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': typeof body === 'string' ? 'application/x-www-form-urlencoded' : 'application/fhir+json' }),
        ...headers,
      },
    });
    return { status: res.statusCode, body: res.body, headers: res.headers, json: <T,>() => JSON.parse(res.body) as T };
  }

  get(url: string, token: string | undefined) {
    return this.call('GET', url, token);
  }

  post(url: string, token: string | undefined, body: unknown, headers?: Record<string, string>) {
    return this.call('POST', url, token, body, headers);
  }
}
