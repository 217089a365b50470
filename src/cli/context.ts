import { loadConfig, type Config } from '../config.ts';
import { CliError } from '../main.ts';
import { serverRunning } from '../operator-socket.ts';
import { buildServices, openDatabase, type Services } from '../services.ts';
import { migrate } from '../store/migrate.ts';
import { IndexBaseMismatch, readIndexState } from '../store/search/index-state.ts';

export interface CommandOptions {
  /** Runs with PUBLIC_URL's base whatever base the search index was built for (`katahdin reindex`, which moves it). */
  anyBase?: boolean;
}

/**
 * Opens the configured database and services for a one-shot command, and always closes them. The embedded
 * database allows one process at a time, so with PGlite the command refuses while a server uses the data folder.
 * A command writes index rows and compartments for the FHIR base the index was built for (the server's): without
 * PUBLIC_URL it takes that base, with another PUBLIC_URL it refuses, as the server does.
 */
export async function withServices<T>(fn: (s: Services) => Promise<T>, opts: CommandOptions = {}): Promise<T> {
  const config = loadConfig();
  if (!config.databaseUrl && (await serverRunning(config.dataDir))) {
    throw new CliError(`a Katahdin server is running on ${config.dataDir}; stop it first (the embedded database allows one process), or use DATABASE_URL`);
  }
  const db = await openDatabase(config);
  try {
    await migrate(db);
    const base = opts.anyBase ? null : (await readIndexState(db)).base;
    return await fn(await buildServices(base === null ? config : withIndexBase(config, base), db));
  } finally {
    await db.close();
  }
}

function withIndexBase(config: Config, base: string): Config {
  if (config.publicUrlDerived) return { ...config, publicUrl: base.replace(/\/fhir$/, '') };
  if (`${config.publicUrl}/fhir` !== base) throw new CliError(new IndexBaseMismatch(base, `${config.publicUrl}/fhir`).message);
  return config;
}
