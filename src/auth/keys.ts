import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

/** JWS algorithm of the token-signing key. ES384 keeps tokens small and matches SMART backend-services practice. */
export const SIGNING_ALG = 'ES384';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** The current signing key first; older keys stay listed so tokens they signed still verify until they expire. */
export interface SigningKeyRing {
  current: SigningKey;
  all: SigningKey[];
}

export interface DataKey {
  kid: string;
  key: Buffer;
}

/** Data-encryption keys; `current` encrypts, every key decrypts. */
export interface DataKeyRing {
  current: DataKey;
  all: DataKey[];
  /** Where the keys came from: the environment cannot be rotated by us, the file can. */
  source: 'env' | 'file';
}

export class KeyError extends Error {}

interface StoredSigningKey {
  kid: string;
  alg: string;
  privateJwk: JWK;
}

interface StoredDataKey {
  kid: string;
  key: string;
  created: string;
}

export const keysDir = (dataDir: string): string => join(dataDir, 'keys');

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KeyError(`cannot read key file ${path}: ${(err as Error).message}`);
  }
}

/** Writes atomically with owner-only permissions: a half-written key file would lock everyone out. */
async function writeSecretJson(path: string, value: unknown): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, path);
}

async function newSigningKey(): Promise<StoredSigningKey> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const kid = createHash('sha256').update(JSON.stringify([privateJwk.x, privateJwk.y])).digest('base64url').slice(0, 16);
  return { kid, alg: SIGNING_ALG, privateJwk };
}

async function toSigningKey(stored: StoredSigningKey): Promise<SigningKey> {
  const privateKey = (await importJWK(stored.privateJwk, stored.alg)) as CryptoKey;
  const { d: _d, ...pub } = stored.privateJwk;
  return { kid: stored.kid, alg: stored.alg, privateKey, publicJwk: { ...pub, kid: stored.kid, alg: stored.alg, use: 'sig' } };
}

/** Loads `<dataDir>/keys/signing-keys.json`, creating it with a fresh ES384 key on first start. */
export async function loadOrCreateSigningKeys(dataDir: string): Promise<SigningKeyRing> {
  const path = join(keysDir(dataDir), 'signing-keys.json');
  let stored = (await readJson<{ keys: StoredSigningKey[] }>(path))?.keys;
  if (!stored?.length) {
    stored = [await newSigningKey()];
    await writeSecretJson(path, { keys: stored });
  }
  const all = await Promise.all(stored.map(toSigningKey));
  return { current: all[0], all };
}

/** The public half of every signing key, served at `/oauth/jwks`. */
export function jwks(ring: SigningKeyRing): { keys: JWK[] } {
  return { keys: ring.all.map((k) => k.publicJwk) };
}

function decodeKey(base64: string, label: string): Buffer {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32) throw new KeyError(`${label} must be 32 bytes of base64 (got ${key.length} bytes)`);
  return key;
}

const envKid = (key: Buffer): string => 'env-' + createHash('sha256').update(key).digest('hex').slice(0, 8);

/**
 * `KATAHDIN_DATA_KEY` is either one base64 key or a comma-separated list of `kid:base64` entries, newest first,
 * so an operator who keeps keys in the environment can rotate by prepending a new one.
 */
export function parseEnvDataKeys(value: string): DataKey[] {
  return value.split(',').map((entry, i) => {
    const trimmed = entry.trim();
    const colon = trimmed.indexOf(':');
    if (colon > 0) return { kid: trimmed.slice(0, colon), key: decodeKey(trimmed.slice(colon + 1), `KATAHDIN_DATA_KEY entry ${i + 1}`) };
    const key = decodeKey(trimmed, 'KATAHDIN_DATA_KEY');
    return { kid: envKid(key), key };
  });
}

const dataKeyPath = (dataDir: string): string => join(keysDir(dataDir), 'data-key.json');

function newStoredDataKey(): StoredDataKey {
  return { kid: 'k' + randomBytes(6).toString('hex'), key: randomBytes(32).toString('base64'), created: new Date().toISOString() };
}

/**
 * The data-key ring: from `KATAHDIN_DATA_KEY` when set (file keys, if any, stay usable for decryption of older
 * values), else from `<dataDir>/keys/data-key.json`, generated on first start.
 */
export async function loadOrCreateDataKeys(dataDir: string, envValue?: string): Promise<DataKeyRing> {
  const path = dataKeyPath(dataDir);
  let stored = (await readJson<{ keys: StoredDataKey[] }>(path))?.keys;
  if (envValue) {
    const fromEnv = parseEnvDataKeys(envValue);
    const fromFile = (stored ?? []).map((k) => ({ kid: k.kid, key: decodeKey(k.key, `data key ${k.kid}`) }));
    const all = [...fromEnv, ...fromFile.filter((f) => !fromEnv.some((e) => e.kid === f.kid))];
    return { current: all[0], all, source: 'env' };
  }
  if (!stored?.length) {
    stored = [newStoredDataKey()];
    await writeSecretJson(path, { keys: stored });
  }
  const all = stored.map((k) => ({ kid: k.kid, key: decodeKey(k.key, `data key ${k.kid}`) }));
  return { current: all[0], all, source: 'file' };
}

/** Adds a new current key to the key file (older keys kept for decryption); `katahdin keys rotate` then re-encrypts. */
export async function addDataKey(dataDir: string): Promise<string> {
  const path = dataKeyPath(dataDir);
  const stored = (await readJson<{ keys: StoredDataKey[] }>(path))?.keys ?? [];
  const fresh = newStoredDataKey();
  await writeSecretJson(path, { keys: [fresh, ...stored] });
  return fresh.kid;
}

/**
 * Synchronous look-up of one key in the key file: lets a running server decrypt values that `katahdin keys rotate`
 * (another process) re-encrypted under a key it has not loaded yet.
 */
export function findDataKeySync(dataDir: string, kid: string): DataKey | undefined {
  try {
    const stored = (JSON.parse(readFileSync(dataKeyPath(dataDir), 'utf8')) as { keys: StoredDataKey[] }).keys;
    const hit = stored.find((k) => k.kid === kid);
    return hit ? { kid: hit.kid, key: decodeKey(hit.key, `data key ${hit.kid}`) } : undefined;
  } catch {
    return undefined;
  }
}
