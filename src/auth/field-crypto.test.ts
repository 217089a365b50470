import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createFieldCrypto, FieldCryptoError, maskSsn, rotateKeys, sealSsn, ssnLookupHashes } from './field-crypto.ts';
import { addDataKey, KeyError, loadOrCreateDataKeys, loadOrCreateSigningKeys, parseEnvDataKeys, type DataKeyRing } from './keys.ts';

function ring(...kids: string[]): DataKeyRing {
  const all = kids.map((kid) => ({ kid, key: randomBytes(32) }));
  return { current: all[0], all, source: 'file' };
}

describe('field crypto', () => {
  it('round-trips any text and stores kid:iv:tag:ciphertext', () => {
    const crypto = createFieldCrypto(ring('k1'));
    fc.assert(fc.property(fc.string(), (text) => {
      const stored = crypto.encrypt(text);
      expect(stored.split(':')).toHaveLength(4);
      expect(stored.startsWith('k1:')).toBe(true);
      expect(crypto.decrypt(stored)).toBe(text);
    }));
  });

  it('uses a fresh IV: the same SSN encrypts differently each time', () => {
    const crypto = createFieldCrypto(ring('k1'));
    expect(crypto.encrypt('123456789')).not.toBe(crypto.encrypt('123456789'));
  });

  it('detects tampering without revealing the value', () => {
    const crypto = createFieldCrypto(ring('k1'));
    const [kid, iv, tag, data] = crypto.encrypt('123456789').split(':');
    const flipped = Buffer.from(data, 'base64');
    flipped[0] ^= 1;
    const tampered = [kid, iv, tag, flipped.toString('base64')].join(':');
    expect(() => crypto.decrypt(tampered)).toThrow(FieldCryptoError);
    try {
      crypto.decrypt(tampered);
    } catch (err) {
      expect((err as Error).message).not.toMatch(/\d{9}/);
    }
    expect(() => crypto.decrypt('nonsense')).toThrow(FieldCryptoError);
  });

  it('cannot decrypt with a different key of the same id', () => {
    const stored = createFieldCrypto(ring('k1')).encrypt('123456789');
    expect(() => createFieldCrypto(ring('k1')).decrypt(stored)).toThrow(FieldCryptoError);
  });

  it('gives a stable keyed hash that differs per key, and candidates for every key', () => {
    const old = ring('k1');
    const a = createFieldCrypto(old);
    expect(a.keyedHash('123456789')).toBe(a.keyedHash('123456789'));
    expect(a.keyedHash('123456789')).not.toBe(a.keyedHash('123456780'));
    const newer = ring('k2');
    const b = createFieldCrypto({ current: newer.current, all: [newer.current, ...old.all], source: 'file' });
    expect(b.keyedHash('123456789')).not.toBe(a.keyedHash('123456789'));
    expect(b.keyedHashCandidates('123456789')).toContain(a.keyedHash('123456789'));
  });

  it('rotates: values under old keys are re-encrypted with the newest, others left alone', async () => {
    const old = ring('k1');
    const before = createFieldCrypto(old);
    const store = new Map([['a', before.encrypt('111223333')], ['b', before.encrypt('444556666')]]);
    const newer = ring('k2');
    const after = createFieldCrypto({ current: newer.current, all: [newer.current, ...old.all], source: 'file' });
    store.set('c', after.encrypt('777889999'));
    const hashes = new Map<string, string>();
    const result = await rotateKeys(after, async (reencrypt) => {
      for (const [id, value] of store) {
        const next = reencrypt(value);
        if (next) {
          store.set(id, next.ciphertext);
          hashes.set(id, next.keyedHash);
        }
      }
    });
    expect(result).toEqual({ examined: 3, reencrypted: 2 });
    expect([...store.values()].every((v) => v.startsWith('k2:'))).toBe(true);
    const onlyNew = createFieldCrypto(newer);
    expect(onlyNew.decrypt(store.get('a')!)).toBe('111223333');
    expect(hashes.get('b')).toBe(onlyNew.keyedHash('444556666'));
  });

  it('seals an SSN for storage and finds it by keyed hash in any written form', () => {
    const crypto = createFieldCrypto(ring('k1'));
    const sealed = sealSsn(crypto, '123-45-6789');
    expect(sealed.masked).toBe('***-**-6789');
    expect(sealed.ciphertext).not.toContain('123456789');
    expect(crypto.decrypt(sealed.ciphertext)).toBe('123456789');
    expect(ssnLookupHashes(crypto, '123 45 6789')).toContain(sealed.keyedHash);
  });

  it('masks SSNs to the last four digits', () => {
    expect(maskSsn('123-45-6789')).toBe('***-**-6789');
    expect(maskSsn('123456789')).toBe('***-**-6789');
    expect(maskSsn('12345')).toBe('***-**-****');
  });
});

describe('key files', () => {
  it('creates the data key on first start with owner-only permissions and reloads the same key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'katahdin-keys-'));
    const first = await loadOrCreateDataKeys(dir);
    const again = await loadOrCreateDataKeys(dir);
    expect(again.current.kid).toBe(first.current.kid);
    expect(again.current.key.equals(first.current.key)).toBe(true);
    expect((await stat(join(dir, 'keys', 'data-key.json'))).mode & 0o077).toBe(0);
    const stored = createFieldCrypto(first).encrypt('123456789');
    const kid = await addDataKey(dir);
    const rotated = await loadOrCreateDataKeys(dir);
    expect(rotated.current.kid).toBe(kid);
    expect(createFieldCrypto(rotated).decrypt(stored)).toBe('123456789');
  });

  it('prefers KATAHDIN_DATA_KEY, still decrypting values under file keys', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'katahdin-keys-'));
    const fileRing = await loadOrCreateDataKeys(dir);
    const stored = createFieldCrypto(fileRing).encrypt('secret');
    const envKey = randomBytes(32).toString('base64');
    const envRing = await loadOrCreateDataKeys(dir, envKey);
    expect(envRing.source).toBe('env');
    expect(envRing.current.kid).toMatch(/^env-/);
    expect(createFieldCrypto(envRing).decrypt(stored)).toBe('secret');
  });

  it('parses kid:key lists and refuses keys that are not 32 bytes', () => {
    const a = randomBytes(32).toString('base64');
    const b = randomBytes(32).toString('base64');
    expect(parseEnvDataKeys(`new:${a},old:${b}`).map((k) => k.kid)).toEqual(['new', 'old']);
    expect(() => parseEnvDataKeys(randomBytes(16).toString('base64'))).toThrow(KeyError);
  });

  it('creates the signing key once and keeps the private part out of the JWKS', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'katahdin-keys-'));
    const a = await loadOrCreateSigningKeys(dir);
    const b = await loadOrCreateSigningKeys(dir);
    expect(b.current.kid).toBe(a.current.kid);
    expect(a.current.publicJwk).not.toHaveProperty('d');
    expect(JSON.parse(await readFile(join(dir, 'keys', 'signing-keys.json'), 'utf8')).keys[0].privateJwk).toHaveProperty('d');
  });
});
