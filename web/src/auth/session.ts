/** The signed-in session: the token response, kept in sessionStorage so a reload keeps the user signed in (tab-scoped). */
import type { Role } from '../api/types.ts';

export interface Session {
  accessToken: string;
  refreshToken?: string;
  /** Epoch milliseconds when the access token expires. */
  expiresAt: number;
  scope: string;
  role: Role;
  username: string;
  displayName: string;
  organizationId?: string;
  patient?: string;
  personId?: string;
}

/** The raw token endpoint answer (snake_case, as the contract sends it). */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  scope: string;
  role?: Role;
  username?: string;
  display_name?: string;
  organization_id?: string;
  patient?: string;
  person_id?: string;
}

const KEY = 'katahdin.session';

/** Claims Katahdin puts in its access tokens (a JWT); used only when the token response lacks the user fields. */
interface AccessClaims {
  role?: Role;
  name?: string;
  preferred_username?: string;
  org?: string;
  person?: string;
}

function claimsOf(jwt: string): AccessClaims {
  try {
    const part = jwt.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))) as AccessClaims;
  } catch {
    return {};
  }
}

/** The role only chooses which screens to show; the server checks every call itself. */
export function sessionFromToken(t: TokenResponse, now = Date.now()): Session {
  const claims = t.role ? {} : claimsOf(t.access_token);
  return {
    accessToken: t.access_token,
    refreshToken: t.refresh_token,
    expiresAt: now + t.expires_in * 1000,
    scope: t.scope,
    role: t.role ?? claims.role ?? 'patient',
    username: t.username ?? claims.preferred_username ?? '',
    displayName: t.display_name ?? claims.name ?? claims.preferred_username ?? '',
    organizationId: t.organization_id ?? claims.org,
    patient: t.patient,
    personId: t.person_id ?? claims.person,
  };
}

export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
}
