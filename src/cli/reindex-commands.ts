import { isStorableType } from '../fhir/definitions.ts';
import { CliError } from '../main.ts';
import { reindexCommand } from '../store/search/reindex.ts';
import { parseArgs } from './args.ts';
import type { CliCommand } from './commands.ts';
import { withServices } from './context.ts';

const USAGE = 'reindex [--type <ResourceType>]...';

/**
 * `--type` may be repeated (and takes comma-separated lists), which `parseArgs` (one value per flag) does not keep:
 * the types are taken out first, then the rest must be empty. Checked before the database is opened.
 */
export function parseReindexArgs(args: string[]): { types: string[] } {
  const types: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    let value: string | undefined;
    if (a === '--type') {
      value = args[i + 1];
      if (value === undefined || value.startsWith('--')) throw new CliError(`--type needs a resource type; usage: katahdin ${USAGE}`);
      i++;
    } else if (a.startsWith('--type=')) value = a.slice('--type='.length);
    else {
      rest.push(a);
      continue;
    }
    const names = value.split(',').map((t) => t.trim()).filter(Boolean);
    if (names.length === 0) throw new CliError(`--type needs a resource type; usage: katahdin ${USAGE}`);
    types.push(...names);
  }
  const p = parseArgs(rest, []);
  if (p.positional.length > 0) throw new CliError(`unexpected argument "${p.positional[0].slice(0, 64)}"; usage: katahdin ${USAGE}`);
  const unknown = types.filter((t) => !isStorableType(t));
  if (unknown.length > 0) throw new CliError(`unknown resource type${unknown.length === 1 ? '' : 's'} ${unknown.map((t) => `"${t.slice(0, 64)}"`).join(', ')} (FHIR R4 types are case-sensitive, e.g. Observation)`);
  return { types: [...new Set(types)] };
}

export const REINDEX_COMMANDS: CliCommand[] = [
  {
    name: 'reindex', usage: USAGE, summary: 'rebuild the search index rows of stored resources (online, in batches)',
    async run(args) {
      const { types } = parseReindexArgs(args);
      return withServices((s) => reindexCommand(s.db, { base: s.fhirBase, types }, console.log));
    },
  },
];
