import { loadConfig } from '../config.ts';
import { CliError } from '../main.ts';
import { serverRunning } from '../operator-socket.ts';
import { buildServices, openDatabase, type Services } from '../services.ts';

/**
 * Opens the configured database and services for a one-shot command, and always closes them. The embedded
 * database allows one process at a time, so with PGlite the command refuses while a server uses the data folder.
 */
export async function withServices<T>(fn: (s: Services) => Promise<T>): Promise<T> {
  const config = loadConfig();
  if (!config.databaseUrl && (await serverRunning(config.dataDir))) {
    throw new CliError(`a Katahdin server is running on ${config.dataDir}; stop it first (the embedded database allows one process), or use DATABASE_URL`);
  }
  const db = await openDatabase(config);
  try {
    return await fn(await buildServices(config, db));
  } finally {
    await db.close();
  }
}
