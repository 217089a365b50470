import { CliError } from '../main.ts';
import { relabelCommand, verifyPurgeCommand } from '../privacy-ops/operator-commands.ts';
import { parseArgs } from './args.ts';
import type { CliCommand } from './commands.ts';
import { withServices } from './context.ts';

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
      return withServices((s) => relabelCommand(s.db, console.log, s.fhirBase));
    },
  },
];
