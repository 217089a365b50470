import { expect } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import type { CallResult, RouteCaller } from './route-calls.ts';

export interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: Array<{ type: string; url: string }>;
  deleted: Array<{ type: string; url: string }>;
  error: Array<{ type: string; url: string }>;
}

/** The path of an absolute URL the server handed out (requests go through `app.inject`). */
export const localPath = (url: string) => url.replace(/^https?:\/\/[^/]+/, '');

/** A Bulk Data kick-off as a client sends it. */
export function kickOff(http: RouteCaller, url: string, token: string, headers: Record<string, string> = {}, body?: unknown): Promise<CallResult> {
  return http.call(body === undefined ? 'GET' : 'POST', url, token, body, { accept: 'application/fhir+json', prefer: 'respond-async', ...headers });
}

/** Polls a kick-off's status URL until the manifest is ready. */
export async function manifestOf(http: RouteCaller, res: CallResult, token: string): Promise<Manifest> {
  expect(res.status, res.body).toBe(202);
  const status = localPath(String(res.headers['content-location']));
  expect(status).toMatch(/^\/fhir\/\$export-status\//);
  for (let i = 0; i < 400; i++) {
    const poll = await http.get(status, token);
    if (poll.status === 200) {
      expect(poll.headers.expires).toBeTruthy();
      return poll.json<Manifest>();
    }
    expect(poll.status, poll.body).toBe(202);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('export never completed');
}

/** Every resource of every output file; checks each file's type, its size limit and that no resource appears twice. */
export async function downloadAll(http: RouteCaller, m: Manifest, token: string, fileLimit = Infinity): Promise<Resource[]> {
  const all: Resource[] = [];
  for (const out of m.output) {
    const res = await http.get(localPath(out.url), token);
    expect(res.status, res.body).toBe(200);
    expect(String(res.headers['content-type'])).toContain('application/fhir+ndjson');
    const lines = res.body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Resource);
    expect(lines.length).toBeLessThanOrEqual(fileLimit);
    for (const r of lines) expect(r.resourceType).toBe(out.type);
    all.push(...lines);
  }
  const keys = all.map((r) => `${r.resourceType}/${r.id}`);
  expect(new Set(keys).size, 'no resource in two files').toBe(keys.length);
  return all;
}

/** Kick-off, wait, download. */
export async function exportAll(http: RouteCaller, url: string, token: string, fileLimit?: number): Promise<Resource[]> {
  return downloadAll(http, await manifestOf(http, await kickOff(http, url, token), token), token, fileLimit);
}
