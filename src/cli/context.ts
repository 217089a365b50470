import { loadConfig } from '../config.ts';
import { buildServices, openDatabase, type Services } from '../services.ts';

/** Opens the configured database and services for a one-shot command, and always closes them. */
export async function withServices<T>(fn: (s: Services) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    return await fn(await buildServices(config, db));
  } finally {
    await db.close();
  }
}
