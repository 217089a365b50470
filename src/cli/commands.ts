import { systemContext } from '../access/context.ts';
import { loadConfig } from '../config.ts';
import { loadDemoData } from '../demo/load-demo.ts';
import { CliError } from '../main.ts';
import { errorQueue } from '../ingest/inbox.ts';
import { retryInboxMessage } from '../ingest/reprocess.ts';
import { migrate } from '../store/migrate.ts';
import { openDatabase } from '../services.ts';
import { startServer } from '../server.ts';
import { requestToken, serverRunning } from '../operator-socket.ts';
import { parseArgs, requireFlag } from './args.ts';
import { withServices } from './context.ts';
import { importAny } from './import-files.ts';
import { PRIVACY_COMMANDS } from './privacy-commands.ts';
import { MPI_COMMANDS } from './mpi-commands.ts';
import { AUDIT_COMMANDS } from './audit-commands.ts';
import { rebuildAfterMigrate, REINDEX_COMMANDS } from './reindex-commands.ts';

export interface CliCommand {
  name: string;
  usage: string;
  summary: string;
  run(args: string[]): Promise<number>;
}

const ROLES = ['clinician', 'clinical-staff', 'registrar', 'privacy-officer', 'admin', 'patient'];

async function serve(): Promise<number> {
  const server = await startServer();
  await new Promise<void>((resolve) => {
    const stop = async (signal: string) => {
      server.app.log.info({ signal }, 'shutting down: finishing in-flight requests');
      await server.close();
      resolve();
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });
  return 0;
}

const quietLog = { info: () => undefined, warn: (m: unknown) => console.warn(m) } as never;

export const COMMANDS: CliCommand[] = [
  { name: 'serve', usage: 'serve', summary: 'run the HIE (HTTP + MLLP)', run: serve },
  {
    name: 'migrate', usage: 'migrate', summary: 'apply database migrations (and a pending search index rebuild)',
    async run() {
      const config = loadConfig();
      if (!config.databaseUrl && (await serverRunning(config.dataDir))) throw new CliError('a server is running on this data folder; stop it first');
      const db = await openDatabase(config);
      try {
        const done = await migrate(db);
        console.log(done.length ? `applied: ${done.join(', ')}` : 'database is up to date');
        // The FHIR base as buildServices derives it from PUBLIC_URL, only when this shell sets PUBLIC_URL: a default
        // would be this machine's address, not the server's.
        await rebuildAfterMigrate(db, { configuredBase: process.env.PUBLIC_URL ? `${config.publicUrl}/fhir` : undefined }, console.log);
        return 0;
      } finally {
        await db.close();
      }
    },
  },
  {
    name: 'demo', usage: 'demo', summary: 'load the demo organizations, users and patients',
    run: () => withServices(async (s) => {
      await loadDemoData(s, quietLog);
      console.log('demo data present (password for every demo user: katahdin-demo)');
      return 0;
    }),
  },
  {
    name: 'import', usage: 'import [--org <id>] <files…>', summary: 'import HL7 v2 (.hl7), C-CDA (.xml) and FHIR JSON / NDJSON files',
    async run(args) {
      const p = parseArgs(args, ['org']);
      if (p.positional.length === 0) throw new CliError('name at least one file to import');
      return withServices(async (s) => {
        let failed = 0;
        for (const file of p.positional) {
          const r = await importAny(s, file, typeof p.flags.org === 'string' ? p.flags.org : undefined);
          const size = r.messages !== undefined ? `${r.messages} message${r.messages === 1 ? '' : 's'}` : `${r.resources} resources`;
          console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.file}: ${size} — ${r.message}`);
          if (!r.ok) failed++;
        }
        return failed ? 1 : 0;
      });
    },
  },
  {
    name: 'ingest errors', usage: 'ingest errors', summary: 'list the ingestion error queue (messages and documents not applied)',
    run: () => withServices(async (s) => {
      const rows = await s.gate.run(systemContext('cli ingest errors'), { action: 'admin', query: 'ingest errors' }, (scope) => errorQueue(scope.tx));
      if (rows.length === 0) console.log('the error queue is empty');
      for (const r of rows) console.log([r.id, new Date(r.received_at).toISOString(), r.status, r.sender, r.message_type ?? '?', r.control_id ?? '-', r.reason ?? ''].join('\t'));
      return 0;
    }),
  },
  {
    name: 'ingest retry', usage: 'ingest retry <id>', summary: 'reprocess one message or document from the error queue',
    async run(args) {
      const id = parseArgs(args, []).positional[0];
      if (!id) throw new CliError('give the id of the message to retry (see `katahdin ingest errors`)');
      return withServices(async (s) => {
        const out = await retryInboxMessage(s, id);
        if (!out) throw new CliError(`no message ${id}, or its content was purged`);
        console.log(`${id}: ${out.status}`);
        return ['processed', 'duplicate', 'superseded'].includes(out.status) ? 0 : 1;
      });
    },
  },
  {
    name: 'token', usage: 'token --user <username> | --client <id>', summary: 'print an access token (operator use)',
    async run(args) {
      const p = parseArgs(args, ['user', 'client']);
      if (!p.flags.user === !p.flags.client) throw new CliError('give exactly one of --user <username> or --client <id>');
      const request = typeof p.flags.user === 'string' ? { user: p.flags.user } : { client: requireFlag(p, 'client') };
      const viaServer = await requestToken(loadConfig().dataDir, request);
      if (viaServer?.error) throw new CliError(viaServer.error);
      if (viaServer?.token) {
        console.log(viaServer.token);
        return 0;
      }
      return withServices(async (s) => {
        const issued = request.user ? await s.auth.mintTokenForUser(request.user) : await s.auth.mintTokenForClient(request.client!);
        console.log(issued.accessToken);
        return 0;
      });
    },
  },
  {
    name: 'users add', usage: 'users add --username u --password p --role r --name "…" [--org id]', summary: 'create a user',
    async run(args) {
      const p = parseArgs(args, ['username', 'password', 'role', 'name', 'org', 'person']);
      const role = requireFlag(p, 'role');
      if (!ROLES.includes(role)) throw new CliError(`--role must be one of ${ROLES.join(', ')}`);
      return withServices(async (s) => {
        const u = await s.auth.addUser({
          username: requireFlag(p, 'username'), password: requireFlag(p, 'password'), role: role as never, displayName: requireFlag(p, 'name'),
          organizationId: typeof p.flags.org === 'string' ? p.flags.org : undefined, personId: typeof p.flags.person === 'string' ? p.flags.person : undefined,
        });
        console.log(`created ${u.username} (${u.role})`);
        return 0;
      });
    },
  },
  {
    name: 'users list', usage: 'users list', summary: 'list users',
    run: () => withServices(async (s) => {
      for (const u of await s.auth.listUsers()) console.log(`${u.username}\t${u.role}\t${u.displayName}`);
      return 0;
    }),
  },
  {
    name: 'clients add', usage: 'clients add --id c --name "…" --org id --scopes "system/*.cruds" --jwks file', summary: 'register a system client',
    async run(args) {
      const p = parseArgs(args, ['id', 'name', 'org', 'scopes', 'jwks']);
      const { readFile } = await import('node:fs/promises');
      const jwksFile = requireFlag(p, 'jwks');
      const jwks = JSON.parse(await readFile(jwksFile, 'utf8').catch(() => { throw new CliError(`cannot read ${jwksFile}`); }));
      return withServices(async (s) => {
        const c = await s.auth.addClient({ clientId: requireFlag(p, 'id'), name: requireFlag(p, 'name'), organizationId: requireFlag(p, 'org'), scopes: requireFlag(p, 'scopes').split(/[ ,]+/), jwks });
        console.log(`registered ${c.clientId}`);
        return 0;
      });
    },
  },
  {
    name: 'clients list', usage: 'clients list', summary: 'list system clients',
    run: () => withServices(async (s) => {
      for (const c of await s.auth.listClients()) console.log(`${c.clientId}\t${c.organizationId ?? '-'}\t${c.scopes.join(' ')}`);
      return 0;
    }),
  },
  ...MPI_COMMANDS,
  ...PRIVACY_COMMANDS,
  ...AUDIT_COMMANDS,
  ...REINDEX_COMMANDS,
];
