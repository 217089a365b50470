import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Queryable } from '../store/database.ts';

export const CHECKPOINT_KEY_FILE = 'audit-checkpoint.key';
/**
 * Every signed checkpoint is also appended here (NDJSON, next to the key, outside the database): whoever can rewrite
 * the database could otherwise delete the truncated tail, its checkpoints and roll the published head back together.
 */
export const CHECKPOINT_LOG_FILE = 'audit-checkpoints.ndjson';

/** The Ed25519 key that signs checkpoints. Kept in `<dataDir>/keys`, never in the database. */
export interface CheckpointKey {
  privateKey?: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

export interface Checkpoint {
  /** The chain whose head this is; `seq` is the head's position in that chain. */
  chain: number;
  seq: number;
  hash: string;
  signature: string;
  keyId: string;
  createdAt: string;
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** Loads the checkpoint key from `keyDir`, creating it (mode 0600) when `create` is set and it is absent. */
export async function loadCheckpointKey(keyDir: string, opts: { create?: boolean } = {}): Promise<CheckpointKey | undefined> {
  const file = join(keyDir, CHECKPOINT_KEY_FILE);
  if (!existsSync(file)) {
    if (!opts.create) return undefined;
    const pair = generateKeyPairSync('ed25519');
    await mkdir(keyDir, { recursive: true, mode: 0o700 });
    await writeFile(file, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    await writeFile(join(keyDir, 'audit-checkpoint.pub'), pair.publicKey.export({ type: 'spki', format: 'pem' }));
  }
  const privateKey = createPrivateKey(await readFile(file));
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/**
 * The exact bytes signed: a domain tag so a checkpoint signature can never be replayed as anything else, and the
 * chain for every chain but the first (whose checkpoints predate chains and were signed without it).
 */
export function checkpointMessage(chain: number, seq: number, hash: string, createdAt: string): Buffer {
  return Buffer.from(`katahdin-audit-checkpoint\n${seq}\n${hash}\n${createdAt}${chain === 1 ? '' : `\nchain ${chain}`}`, 'utf8');
}

export function checkpointSignatureValid(cp: Checkpoint, key: CheckpointKey): boolean {
  if (cp.keyId !== key.keyId) return false;
  return verify(null, checkpointMessage(cp.chain, cp.seq, cp.hash, cp.createdAt), key.publicKey, Buffer.from(cp.signature, 'base64'));
}

/**
 * Signs the last entry of every chain in use (chain 1 always) and publishes it as the chain's head, so later
 * truncation of a chain's tail is detectable. Returns the checkpoints, chain 1 first.
 */
export async function writeCheckpoint(db: Queryable, key: CheckpointKey, now: Date = new Date()): Promise<Checkpoint[]> {
  if (!key.privateKey) throw new Error('checkpoint key has no private part');
  const tails = (await db.query<{ id: number; seq: number | string; hash: string }>(
    `select c.id, coalesce(t.pos, 0) as seq, coalesce(t.hash, c.hash) as hash from audit_chain_head c
       left join lateral (select coalesce(l.chain_seq, l.seq) as pos, l.hash from audit_log l
         where l.chain = c.id order by coalesce(l.chain_seq, l.seq) desc limit 1) t on true
     where c.id = 1 or t.pos is not null order by c.id`,
  )).rows;
  if (Number(tails[0]?.id) !== 1) throw new Error('audit chain head missing');
  const createdAt = now.toISOString();
  const out: Checkpoint[] = [];
  for (const tail of tails) {
    const chain = Number(tail.id);
    const seq = Number(tail.seq);
    const signature = sign(null, checkpointMessage(chain, seq, tail.hash, createdAt), key.privateKey).toString('base64');
    await db.query('update audit_chain_head set seq = $2, hash = $3 where id = $1 and seq < $2', [chain, seq, tail.hash]);
    await db.query(
      'insert into audit_checkpoints (chain, seq, hash, signature, key_id, created_at) values ($1, $2, $3, $4, $5, $6)',
      [chain, seq, tail.hash, signature, key.keyId, createdAt],
    );
    out.push({ chain, seq, hash: tail.hash, signature, keyId: key.keyId, createdAt });
  }
  return out;
}

/** Appends checkpoints to `<keyDir>/audit-checkpoints.ndjson` (mode 0600), the copy the database cannot remove. */
export async function appendCheckpointLog(keyDir: string, checkpoints: Checkpoint[]): Promise<void> {
  if (checkpoints.length === 0) return;
  await mkdir(keyDir, { recursive: true, mode: 0o700 });
  await appendFile(join(keyDir, CHECKPOINT_LOG_FILE), checkpoints.map((c) => JSON.stringify(c) + '\n').join(''), { mode: 0o600 });
}

/** The checkpoints kept outside the database (none when the file is absent). */
export async function readCheckpointLog(keyDir: string): Promise<Checkpoint[]> {
  const file = join(keyDir, CHECKPOINT_LOG_FILE);
  if (!existsSync(file)) return [];
  return (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim()).map((l) => {
    const c = JSON.parse(l) as Checkpoint;
    return { chain: Number(c.chain), seq: Number(c.seq), hash: c.hash, signature: c.signature, keyId: c.keyId, createdAt: c.createdAt };
  });
}

export async function listCheckpoints(db: Queryable): Promise<Checkpoint[]> {
  const rows = (await db.query<{ chain: number; seq: number | string; hash: string; signature: string; key_id: string; created_at: Date | string }>(
    'select chain, seq, hash, signature, key_id, created_at from audit_checkpoints order by id',
  )).rows;
  return rows.map((r) => ({
    chain: Number(r.chain), seq: Number(r.seq), hash: r.hash, signature: r.signature, keyId: r.key_id, createdAt: new Date(r.created_at).toISOString(),
  }));
}
