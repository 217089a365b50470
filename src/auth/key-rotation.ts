import type { Config } from '../config.ts';
import type { Database } from '../store/database.ts';
import { createAuthService } from './auth-service.ts';
import type { FieldCrypto } from './field-crypto.ts';
import { addDataKey, loadOrCreateDataKeys } from './keys.ts';

export interface RotationReport {
  /** The key everything is now encrypted with. */
  currentKeyId: string;
  /** Whether this run generated that key (false when keys come from KATAHDIN_DATA_KEY). */
  addedKey: boolean;
  totpSecrets: { examined: number; reencrypted: number };
  others: { examined: number; reencrypted: number };
}

/**
 * `katahdin keys rotate`: adds a new data key to `<dataDir>/keys/data-key.json` (older keys stay for decryption)
 * and re-encrypts every stored secret with it. When keys come from `KATAHDIN_DATA_KEY` the operator rotates by
 * prepending a `kid:key` entry; this then only re-encrypts. `reencryptOthers` is the record layer's part (SSNs):
 * typically `(crypto) => rotateKeys(crypto, iterateSsnColumn)`.
 */
export async function rotateDataKey(opts: {
  db: Database;
  config: Config;
  reencryptOthers?: (crypto: FieldCrypto) => Promise<{ examined: number; reencrypted: number }>;
}): Promise<RotationReport> {
  const addedKey = !opts.config.dataKey;
  if (addedKey) await addDataKey(opts.config.dataDir);
  const dataKeys = await loadOrCreateDataKeys(opts.config.dataDir, opts.config.dataKey);
  const auth = await createAuthService({ db: opts.db, config: opts.config, dataKeys });
  const totpSecrets = await auth.rotateSecrets();
  const others = (await opts.reencryptOthers?.(auth.fieldCrypto)) ?? { examined: 0, reencrypted: 0 };
  return { currentKeyId: dataKeys.current.kid, addedKey, totpSecrets, others };
}
