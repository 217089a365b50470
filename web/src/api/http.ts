/** The one place that sends requests: adds the bearer token, refreshes it once on 401, turns errors into ApiError. */
import { loadSession, saveSession, type Session } from '../auth/session.ts';
import { refreshSession } from '../auth/oauth.ts';
import { ApiError, isOperationOutcome } from './errors.ts';

type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();
let refreshing: Promise<Session | null> | null = null;

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function setSession(session: Session | null): void {
  saveSession(session);
  for (const l of listeners) l(session);
}

async function refreshOnce(): Promise<Session | null> {
  const current = loadSession();
  if (!current?.refreshToken) return null;
  refreshing ??= refreshSession(current.refreshToken)
    .then((s) => {
      setSession(s);
      return s;
    })
    .catch(() => {
      setSession(null);
      return null;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

async function validToken(): Promise<string | undefined> {
  const s = loadSession();
  if (!s) return undefined;
  // Refresh a little early so a request does not race the expiry.
  if (s.expiresAt - Date.now() < 15_000 && s.refreshToken) return (await refreshOnce())?.accessToken;
  return s.accessToken;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  accept?: string;
  contentType?: string;
  /** Further request headers (e.g. `Prefer`). */
  headers?: Record<string, string>;
}

async function send(path: string, opts: RequestOptions, token: string | undefined): Promise<Response> {
  const headers: Record<string, string> = { ...opts.headers, Accept: opts.accept ?? 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = opts.contentType ?? 'application/json';
    body = JSON.stringify(opts.body);
  }
  return fetch(path, { method: opts.method ?? (body ? 'POST' : 'GET'), headers, body });
}

async function toError(res: Response): Promise<ApiError> {
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (isOperationOutcome(parsed)) {
    const msg = parsed.issue?.[0]?.diagnostics ?? parsed.issue?.[0]?.details?.text ?? `Request failed (${res.status})`;
    return new ApiError(res.status, msg, parsed);
  }
  const message = (parsed as { message?: string; error_description?: string } | undefined);
  return new ApiError(res.status, message?.message ?? message?.error_description ?? `Request failed (${res.status})`);
}

/** Sends a request and returns the raw Response (for downloads); throws ApiError when not ok. */
export async function request(path: string, opts: RequestOptions = {}): Promise<Response> {
  let res = await send(path, opts, await validToken());
  if (res.status === 401) {
    const fresh = await refreshOnce();
    if (fresh) res = await send(path, opts, fresh.accessToken);
  }
  if (!res.ok) throw await toError(res);
  return res;
}

export async function requestJson<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await request(path, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}
