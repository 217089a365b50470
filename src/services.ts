import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { MatchModel } from './mpi/model.ts';
import { AccessGate } from './access/gate.ts';
import type { GateScope } from './access/gate-scope.ts';
import { createSsnProtector } from './access/ssn-protector.ts';
import { appendAudit, appendStatements } from './audit/chain.ts';
import { recordedReadStatement } from './audit/recorded-read.ts';
import { createAuthService, type AuthService } from './auth/auth-service.ts';
import type { Config } from './config.ts';
import { LinkStore } from './mpi/link-store.ts';
import { loadMatchModel } from './mpi/model-store.ts';
import { patientToRecord } from './mpi/normalize.ts';
import { compartmentPatient } from './record/compartment.ts';
import { RecordService } from './record/record-service.ts';
import { prepareValidation } from './record/validate.ts';
import { loadValueSets } from './privacy/labels/value-sets.ts';
import { TransactionService } from './record/transaction-service.ts';
import { joinIntake } from './record/join-intake.ts';
import { createWritePolicy, refreshPersonPrivacy } from './record/write-policy.ts';
import { purgePerson } from './record/purge-person.ts';
import { FhirError, unprocessable } from './fhir/outcome.ts';
import { Notifier } from './notify/notifier.ts';
import type { Database } from './store/database.ts';
import { openPostgres } from './store/postgres-database.ts';
import { migrate } from './store/migrate.ts';
import { createSearchEngine } from './store/search/engine.ts';

/** Everything the transports (HTTP, MLLP, CLI) share; built once per process and passed down, never global. */
export interface Services {
  config: Config;
  db: Database;
  auth: AuthService;
  gate: AccessGate;
  records: RecordService;
  transactions: TransactionService;
  links: LinkStore;
  model: { current: MatchModel };
  /** Which types live FHIR Subscriptions watch; queues their notifications on write. */
  notifier: Notifier;
  fhirBase: string;
}

/** PGlite is imported only when it is used: importing it costs ~40 MB of RSS that a PostgreSQL deployment never needs. */
async function openEmbedded(dataDir?: string): Promise<Database> {
  const { openPglite } = await import('./store/pglite-database.ts');
  return openPglite(dataDir);
}

/** Where the database layer reports a lost idle connection (no PHI: the error code only). */
export interface DatabaseLog {
  warn(obj: object, msg: string): void;
}

export async function openDatabase(config: Config, log?: DatabaseLog): Promise<Database> {
  // `memory://` is an in-memory PGlite: same engine, nothing on disk (tests).
  if (config.databaseUrl === 'memory://') return openEmbedded();
  if (config.databaseUrl) {
    const url = new URL(config.databaseUrl);
    const schema = url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    const onIdleError = (err: Error) => log?.warn({ code: (err as { code?: string }).code }, 'database connection lost while idle; the pool opens a new one');
    return openPostgres({ url: url.toString(), schema, max: config.databasePoolSize, onIdleError });
  }
  const dir = join(config.dataDir, 'pgdata');
  await mkdir(dir, { recursive: true });
  return openEmbedded(dir);
}

export async function buildServices(config: Config, db: Database): Promise<Services> {
  // Definitions, required bindings and sensitivity value sets are loaded before the first request, not during it.
  prepareValidation();
  loadValueSets();
  await migrate(db);
  const auth = await createAuthService({ db, config });
  await auth.ensureBuiltinClients();
  const fhirBase = `${config.publicUrl}/fhir`;
  const search = createSearchEngine({ fhirBase, maxIncludes: config.searchMaxIncludes });
  const gate = new AccessGate({
    db,
    config,
    search,
    protector: createSsnProtector(auth.fieldCrypto),
    audit: { append: (tx, records) => appendAudit(tx, records), appendStatements: (records) => appendStatements(records), readStatement: recordedReadStatement },
  });
  const model = { current: await loadMatchModel(db) };
  const purge = async (scope: GateScope, personId: string) => {
    await purgePerson(scope, personId, {
      deleteIndex: search.deleteIndex,
      reindexPatient: (s, patient) => links.storeBlockKeys(s, patient.id, patientToRecord(patient)),
    });
  };
  const links: LinkStore = new LinkStore({
    hashKey: (key) => auth.fieldCrypto.keyedHash(`mpi-block:${key}`),
    model: () => model.current,
    revealSsn: (c) => {
      try {
        return auth.fieldCrypto.decrypt(c);
      } catch {
        return undefined;
      }
    },
    onJoinOptedOut: purge,
    onJoin: (scope, personId, joined) => joinIntake(scope, personId, joined, search.deleteIndex, fhirBase),
    onChoicesMoved: async (scope, personIds) => {
      for (const personId of personIds) await refreshPersonPrivacy(scope, personId);
    },
  });
  const notifier = new Notifier({
    // Notifications carry health information: https only in production (everything travels encrypted).
    allowHttp: !config.production,
    checkSearch: ({ type, query }) => {
      try {
        search.parse(type, query, true);
      } catch (err) {
        if (err instanceof FhirError) throw unprocessable(`Subscription.criteria: ${err.message}`, ['Subscription.criteria']);
        throw err;
      }
    },
  });
  const records = new RecordService({ linker: links, policy: createWritePolicy(purge), compartment: (resource) => compartmentPatient(resource, fhirBase), subscriptions: notifier });
  await notifier.load(db);
  const transactions = new TransactionService(gate, records, fhirBase);
  return { config, db, auth, gate, records, transactions, links, model, notifier, fhirBase };
}
