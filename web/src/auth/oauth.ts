/** SMART authorization-code + PKCE flow against Katahdin's own authorization server. */
import { randomToken, s256Challenge } from './pkce.ts';
import { sessionFromToken, type Session, type TokenResponse } from './session.ts';

export const CLIENT_ID = 'katahdin-web';
// Each role gets the part of these its ceiling allows (src/auth/scopes.ts): a patient, read access and writing their own choices.
const SCOPES = 'openid fhirUser user/*.rs user/*.cruds patient/*.cruds offline_access';
const PENDING_KEY = 'katahdin.pkce';

interface Pending {
  state: string;
  verifier: string;
  returnTo: string;
}

export function redirectUri(): string {
  return `${window.location.origin}/callback`;
}

/** Sends the browser to the server's sign-in page. */
export async function beginSignIn(returnTo = '/'): Promise<void> {
  const pending: Pending = { state: randomToken(16), verifier: randomToken(48), returnTo };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: redirectUri(),
    scope: SCOPES,
    state: pending.state,
    aud: `${window.location.origin}/fhir`,
    code_challenge: await s256Challenge(pending.verifier),
    code_challenge_method: 'S256',
  });
  window.location.assign(`/oauth/authorize?${params.toString()}`);
}

async function postToken(body: Record<string, string>): Promise<Session> {
  const res = await fetch('/oauth/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams(body).toString(),
  });
  if (!res.ok) throw new Error(`Sign-in failed (${res.status}). Please sign in again.`);
  return sessionFromToken((await res.json()) as TokenResponse);
}

/** Finishes the flow on /callback: checks state, trades the code for tokens. Returns the session and where to go next. */
export async function completeSignIn(search: string): Promise<{ session: Session; returnTo: string }> {
  const params = new URLSearchParams(search);
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  const error = params.get('error');
  if (error) throw new Error(params.get('error_description') ?? `Sign-in was not completed (${error}).`);
  const pending = raw ? (JSON.parse(raw) as Pending) : null;
  const code = params.get('code');
  if (!pending || !code || params.get('state') !== pending.state) {
    throw new Error('This sign-in link is not valid any more. Please sign in again.');
  }
  const session = await postToken({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
    client_id: CLIENT_ID,
  });
  return { session, returnTo: pending.returnTo };
}

/** Uses the refresh token (the server rotates it) to get a new access token. */
export function refreshSession(refreshToken: string): Promise<Session> {
  return postToken({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID });
}

export async function revoke(token: string): Promise<void> {
  await fetch('/oauth/logout', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token }),
  }).catch(() => undefined);
}
