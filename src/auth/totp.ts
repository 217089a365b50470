import * as OTPAuth from 'otpauth';

const PERIOD = 30;

export interface TotpEnrolment {
  /** Base32 secret (store encrypted). */
  secret: string;
  /** `otpauth://totp/...` for authenticator apps (QR code or manual entry). */
  uri: string;
}

function totpFor(secret: string, username = 'user'): OTPAuth.TOTP {
  return new OTPAuth.TOTP({
    issuer: 'Katahdin',
    label: username,
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
    secret: OTPAuth.Secret.fromBase32(secret),
  });
}

export function newTotpSecret(username: string): TotpEnrolment {
  const secret = new OTPAuth.Secret({ size: 20 }).base32;
  return { secret, uri: totpFor(secret, username).toString() };
}

export function totpUri(secret: string, username: string): string {
  return totpFor(secret, username).toString();
}

/**
 * Checks a code with ±1 step of clock drift. Returns the accepted time step, or undefined. A step at or before
 * `lastStep` is refused, so a code that was already used cannot be replayed.
 */
export function verifyTotp(secret: string, token: string, lastStep?: number, now = Date.now()): number | undefined {
  if (!/^\d{6}$/.test(token.trim())) return undefined;
  const delta = totpFor(secret).validate({ token: token.trim(), timestamp: now, window: 1 });
  if (delta === null) return undefined;
  const step = Math.floor(now / 1000 / PERIOD) + delta;
  if (lastStep !== undefined && step <= lastStep) return undefined;
  return step;
}

/** The current code (tests and the demo's documentation). */
export function currentTotp(secret: string, now = Date.now()): string {
  return totpFor(secret).generate({ timestamp: now });
}
