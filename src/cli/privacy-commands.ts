import { CliError } from '../main.ts';
import { formatRelabel, relabelAll } from '../privacy-ops/relabel.ts';
import { formatVerification, verifyPurge } from '../privacy-ops/verify-purge.ts';
import type { Database } from '../store/database.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import { parseArgs } from './args.ts';
import type { CliCommand } from './commands.ts';
import { withServices } from './context.ts';

/** Accepts a person id, or the id of one of their source Patients (what an operator usually has at hand). */
async function resolvePerson(db: Database, id: string): Promise<string | undefined> {
  const rows = await run<{ person_id: string }>(db, sql`select person_id from mpi_links where person_id = ${id} or patient_id = ${id} limit 1`);
  return rows[0]?.person_id;
}

/** `privacy verify-purge`: 0 when the person's purge is verified, 1 when anything is left (or not opted out). */
export async function verifyPurgeCommand(db: Database, id: string, print: (line: string) => void): Promise<number> {
  const personId = await resolvePerson(db, id);
  if (!personId) throw new CliError(`no person or source patient with id ${id.slice(0, 64)}`);
  const v = await verifyPurge(db, personId);
  print(formatVerification(v));
  return v.ok ? 0 : 1;
}

export async function relabelCommand(db: Database, print: (line: string) => void): Promise<number> {
  print(formatRelabel(await relabelAll(db)));
  return 0;
}

export const PRIVACY_COMMANDS: CliCommand[] = [
  {
    name: 'privacy verify-purge', usage: 'privacy verify-purge <person|patient id>', summary: 'check that an opted-out person left nothing behind',
    async run(args) {
      const p = parseArgs(args, []);
      if (p.positional.length !== 1) throw new CliError('name exactly one person (or source patient) id');
      return withServices((s) => verifyPurgeCommand(s.db, p.positional[0], console.log));
    },
  },
  {
    name: 'privacy relabel', usage: 'privacy relabel', summary: 're-apply the current sensitivity value sets to stored data',
    async run(args) {
      parseArgs(args, []);
      return withServices((s) => relabelCommand(s.db, console.log));
    },
  },
];
