import { createHash, randomBytes } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';

/** The authorization request, carried from the form back to us inside the signed form token. */
export interface AuthorizeParams {
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string;
  codeChallenge: string;
}

/**
 * The login form's state, signed (HS256) so nobody can alter the authorization request between steps, and bound
 * to a random cookie (double submit) so another site cannot post a login into the victim's browser (login CSRF).
 * Steps after the password carry the user id: having one of these proves the password was right a moment ago.
 */
export interface FormState {
  step: 'password' | 'totp' | 'enrol';
  params: AuthorizeParams;
  userId?: string;
  csrfHash: string;
}

const FORM_AUDIENCE = 'katahdin-login-form';
const FORM_MINUTES = 10;
/** A partially signed-in user has this long to type the second factor. */
const SECOND_STEP_MINUTES = 5;

export const CSRF_COOKIE = 'katahdin_login';

export function newCsrfNonce(): string {
  return randomBytes(24).toString('base64url');
}

export function csrfHash(nonce: string): string {
  return createHash('sha256').update(nonce).digest('base64url');
}

export async function signFormState(secret: Uint8Array, state: FormState): Promise<string> {
  return new SignJWT({ ...state })
    .setProtectedHeader({ alg: 'HS256' })
    .setAudience(FORM_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${state.step === 'password' ? FORM_MINUTES : SECOND_STEP_MINUTES}m`)
    .sign(secret);
}

/** The state when the token is ours, unexpired and bound to this browser's cookie; otherwise undefined. */
export async function verifyFormState(secret: Uint8Array, token: string, cookieNonce: string | undefined): Promise<FormState | undefined> {
  if (!cookieNonce) return undefined;
  try {
    const { payload } = await jwtVerify(token, secret, { audience: FORM_AUDIENCE, algorithms: ['HS256'] });
    const state = payload as unknown as FormState;
    return state.csrfHash === csrfHash(cookieNonce) ? state : undefined;
  } catch {
    return undefined;
  }
}

/** Reads one cookie without a cookie plugin. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}
