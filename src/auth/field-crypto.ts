import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { DataKey, DataKeyRing } from './keys.ts';

/** Thrown when a stored value cannot be decrypted. The message never contains the value or its plaintext. */
export class FieldCryptoError extends Error {
  override name = 'FieldCryptoError';
}

/** Authenticated encryption of single fields (SSNs, TOTP secrets) and keyed hashes for equality matching. */
export interface FieldCrypto {
  /** `kid:iv:tag:ciphertext` (iv, tag, ciphertext base64), AES-256-GCM under the current key. */
  encrypt(plaintext: string): string;
  decrypt(stored: string): string;
  /** Key id a stored value was encrypted with. */
  keyIdOf(stored: string): string;
  /** `kid:hmac` (base64url) under the current key: store this for lookups. */
  keyedHash(value: string): string;
  /** The keyed hash under every known key: look up with `= any(...)` so values not yet rotated still match. */
  keyedHashCandidates(value: string): string[];
  readonly currentKeyId: string;
}

// Separate sub-keys for encryption and hashing, so the same bytes are never used by two primitives.
function subKey(key: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `katahdin/${purpose}`, 32));
}

interface DerivedKey {
  kid: string;
  enc: Buffer;
  mac: Buffer;
}

function derive(k: DataKey): DerivedKey {
  if (k.kid.includes(':')) throw new FieldCryptoError('data key ids must not contain ":"');
  return { kid: k.kid, enc: subKey(k.key, 'field-encryption'), mac: subKey(k.key, 'field-hash') };
}

function hmac(k: DerivedKey, value: string): string {
  return `${k.kid}:${createHmac('sha256', k.mac).update(value, 'utf8').digest('base64url')}`;
}

/** `findKey` is asked for key ids the ring does not hold (a rotation run by another process). */
export function createFieldCrypto(ring: DataKeyRing, findKey?: (kid: string) => DataKey | undefined): FieldCrypto {
  const keys = new Map(ring.all.map((k) => [k.kid, derive(k)]));
  const keyFor = (kid: string): DerivedKey | undefined => {
    if (!keys.has(kid)) {
      const found = findKey?.(kid);
      if (found) keys.set(kid, derive(found));
    }
    return keys.get(kid);
  };
  const current = keys.get(ring.current.kid) ?? derive(ring.current);
  const parse = (stored: string): string[] => {
    const parts = stored.split(':');
    if (parts.length !== 4) throw new FieldCryptoError('malformed encrypted value');
    return parts;
  };
  return {
    currentKeyId: current.kid,
    encrypt(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current.enc, iv);
      cipher.setAAD(Buffer.from(current.kid));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [current.kid, iv.toString('base64'), cipher.getAuthTag().toString('base64'), data.toString('base64')].join(':');
    },
    decrypt(stored) {
      const [kid, iv, tag, data] = parse(stored);
      const key = keyFor(kid);
      if (!key) throw new FieldCryptoError(`no data key with id ${kid}`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key.enc, Buffer.from(iv, 'base64'));
        decipher.setAAD(Buffer.from(kid));
        decipher.setAuthTag(Buffer.from(tag, 'base64'));
        return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
      } catch {
        throw new FieldCryptoError(`encrypted value failed authentication (key ${kid})`);
      }
    },
    keyIdOf: (stored) => parse(stored)[0],
    keyedHash: (value) => hmac(current, value),
    keyedHashCandidates: (value) => [...keys.values()].map((k) => hmac(k, value)),
  };
}

/** Digits only: the canonical SSN form that gets encrypted and hashed. */
export function normalizeSsn(ssn: string): string {
  return ssn.replace(/\D/g, '');
}

/** `***-**-1234`; anything that is not nine digits is masked entirely. */
export function maskSsn(ssn: string): string {
  const digits = normalizeSsn(ssn);
  return digits.length === 9 ? `***-**-${digits.slice(5)}` : '***-**-****';
}

/** What the record layer stores for an SSN: ciphertext, a keyed hash for matching, and the mask for responses. */
export interface SealedSsn {
  ciphertext: string;
  keyedHash: string;
  masked: string;
}

export function sealSsn(crypto: FieldCrypto, ssn: string): SealedSsn {
  const digits = normalizeSsn(ssn);
  return { ciphertext: crypto.encrypt(digits), keyedHash: crypto.keyedHash(digits), masked: maskSsn(digits) };
}

/** Hashes to look an SSN up with (`where ssn_hash = any($1)`), valid across a key rotation in progress. */
export function ssnLookupHashes(crypto: FieldCrypto, ssn: string): string[] {
  return crypto.keyedHashCandidates(normalizeSsn(ssn));
}

/** What `rotateKeys` hands back for one stored value: the new ciphertext and the new keyed hash of its plaintext. */
export interface RotatedValue {
  ciphertext: string;
  keyedHash: string;
}

/** Re-encrypts one stored value, or returns undefined when it already uses the current key. */
export type Reencrypt = (stored: string) => RotatedValue | undefined;

/**
 * Re-encrypts every stored value with the newest key. `iterate` belongs to the owner of the values (the record
 * layer for SSNs, auth for TOTP secrets): it visits each value, calls `reencrypt`, and saves what comes back.
 */
export async function rotateKeys(
  crypto: FieldCrypto,
  iterate: (reencrypt: Reencrypt) => Promise<void>,
): Promise<{ examined: number; reencrypted: number }> {
  let examined = 0;
  let reencrypted = 0;
  await iterate((stored) => {
    examined++;
    if (crypto.keyIdOf(stored) === crypto.currentKeyId) return undefined;
    const plaintext = crypto.decrypt(stored);
    reencrypted++;
    return { ciphertext: crypto.encrypt(plaintext), keyedHash: crypto.keyedHash(plaintext) };
  });
  return { examined, reencrypted };
}
