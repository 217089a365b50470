import argon2 from 'argon2';

/** Password rules kept deliberately simple (NIST 800-63B): length, not composition. */
export const MIN_PASSWORD_LENGTH = 10;

export class PasswordPolicyError extends Error {}

export function checkPasswordPolicy(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new PasswordPolicyError(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > 256) throw new PasswordPolicyError('password must be at most 256 characters');
}

export interface Argon2Cost {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/**
 * OWASP's Argon2id baseline (19 MiB, 2 passes, 1 lane): about 0.3 s on a small 2-core server, so a burst of
 * logins cannot exhaust CPU. The library default (64 MiB, 3 passes, 4 lanes) took 1.6 s there.
 */
export const DEFAULT_ARGON2_COST: Argon2Cost = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export async function hashPassword(password: string, cost: Argon2Cost = DEFAULT_ARGON2_COST): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id, ...cost });
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/** Spends the same time as a real check, so a login for an unknown username is not faster than a wrong password. */
export async function verifyDummyPassword(password: string): Promise<false> {
  dummyHash ??= hashPassword('katahdin-dummy-password');
  await verifyPassword(await dummyHash, password);
  return false;
}
