import { loadConfig } from '../config.ts';
import { loadDemoData } from '../demo/load-demo.ts';
import { CliError } from '../main.ts';
import { migrate } from '../store/migrate.ts';
import { openDatabase } from '../services.ts';
import { startServer } from '../server.ts';
import { parseArgs, requireFlag } from './args.ts';
import { withServices } from './context.ts';
import { importFile } from './import-files.ts';
import { MPI_COMMANDS } from './mpi-commands.ts';

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
    name: 'migrate', usage: 'migrate', summary: 'apply database migrations',
    async run() {
      const db = await openDatabase(loadConfig());
      try {
        const done = await migrate(db);
        console.log(done.length ? `applied: ${done.join(', ')}` : 'database is up to date');
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
    name: 'import', usage: 'import [--org <id>] <files…>', summary: 'import FHIR JSON / NDJSON / Bundles',
    async run(args) {
      const p = parseArgs(args, ['org']);
      if (p.positional.length === 0) throw new CliError('name at least one file to import');
      return withServices(async (s) => {
        let failed = 0;
        for (const file of p.positional) {
          const r = await importFile(s, file, typeof p.flags.org === 'string' ? p.flags.org : undefined);
          console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.file}: ${r.resources} resources${r.ok ? '' : ` — ${r.message}`}`);
          if (!r.ok) failed++;
        }
        return failed ? 1 : 0;
      });
    },
  },
  {
    name: 'token', usage: 'token --user <username> | --client <id>', summary: 'print an access token (operator use)',
    async run(args) {
      const p = parseArgs(args, ['user', 'client']);
      if (!p.flags.user === !p.flags.client) throw new CliError('give exactly one of --user <username> or --client <id>');
      return withServices(async (s) => {
        const issued = typeof p.flags.user === 'string' ? await s.auth.mintTokenForUser(p.flags.user) : await s.auth.mintTokenForClient(requireFlag(p, 'client'));
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
];
