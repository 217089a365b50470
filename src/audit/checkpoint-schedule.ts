import type { Queryable } from '../store/database.ts';
import { appendCheckpointLog, loadCheckpointKey, writeCheckpoint } from './checkpoint.ts';

export interface CheckpointLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Signs the last entry of every audit chain every `minutes` while the server runs, and once more when it stops, so truncation
 * of the log is detectable without an operator remembering `katahdin audit checkpoint` (which cannot reach an
 * embedded database while the server holds it). The key is created in `keyDir` on first use. `minutes` = 0: off.
 */
export async function startCheckpoints(db: Queryable, keyDir: string, minutes: number, log: CheckpointLog): Promise<{ close(): Promise<void> }> {
  if (minutes <= 0) return { close: async () => undefined };
  const key = (await loadCheckpointKey(keyDir, { create: true }))!;
  let running: Promise<void> = Promise.resolve();
  const sign = () => {
    running = running.then(async () => {
      try {
        const cps = await writeCheckpoint(db, key);
        await appendCheckpointLog(keyDir, cps);
        log.info({ chains: cps.length, entries: cps.reduce((n, c) => n + c.seq, 0) }, 'audit checkpoint signed');
      } catch (err) {
        log.error({ err: (err as Error).message }, 'audit checkpoint failed');
      }
    });
    return running;
  };
  const timer = setInterval(sign, minutes * 60_000);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await sign();
    },
  };
}
