import { isStorableType } from '../fhir/definitions.ts';
import { CliError } from '../main.ts';
import type { Database } from '../store/database.ts';
import { readIndexState, rebuildPending, requestRebuild } from '../store/search/index-state.ts';
import { formatReindex, reindexCommand } from '../store/search/reindex.ts';
import { parseArgs } from './args.ts';
import type { CliCommand } from './commands.ts';
import { withServices } from './context.ts';

const USAGE = 'reindex [--type <ResourceType>]... | --rebase';

/**
 * `--type` may be repeated (and takes comma-separated lists), which `parseArgs` (one value per flag) does not keep:
 * the types are taken out first, then the rest must be empty. Checked before the database is opened.
 */
export function parseReindexArgs(args: string[]): { types: string[]; rebase: boolean } {
  const types: string[] = [];
  const rest: string[] = [];
  let rebase = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    let value: string | undefined;
    if (a === '--rebase') {
      rebase = true;
      continue;
    }
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
  if (rebase && types.length > 0) throw new CliError('--rebase rebuilds every type: it takes no --type');
  return { types: [...new Set(types)], rebase };
}

export interface ReindexRun {
  /** The FHIR base of PUBLIC_URL when the command's environment sets it; undefined when PUBLIC_URL is unset. */
  configuredBase?: string;
  batchSize?: number;
  /** Progress at most this often (ms). */
  everyMs?: number;
}

/** Carries out the pending rebuild for `base` (resuming it), printing progress and the counts. */
async function runPending(db: Database, base: string, opts: ReindexRun, print: (line: string) => void): Promise<void> {
  print(`reindexing every resource type (FHIR base ${base})`);
  const everyMs = opts.everyMs ?? 2000;
  let shown = 0;
  const report = await rebuildPending(db, {
    base, batchSize: opts.batchSize,
    onBatch: (p) => {
      if (Date.now() - shown < everyMs) return;
      shown = Date.now();
      print(`… ${p.done} resources rebuilt (at ${p.resourceType})`);
    },
  });
  for (const line of formatReindex(report ?? { base, types: {}, total: 0, batches: 0 })) print(line);
}

/** The base a command rebuilds for: the one recorded (the server's), else PUBLIC_URL's when the environment sets it. */
function baseFor(recorded: string | null, opts: ReindexRun, print: (line: string) => void): string | undefined {
  if (recorded && opts.configuredBase && opts.configuredBase !== recorded) {
    print(`note: PUBLIC_URL here gives FHIR base ${opts.configuredBase}; the index keeps the server's, ${recorded} (\`katahdin reindex --rebase\` moves it to PUBLIC_URL's)`);
  }
  return recorded ?? opts.configuredBase;
}

/**
 * `katahdin reindex`: rebuilds for the FHIR base recorded with the index (the server's), whatever PUBLIC_URL this
 * shell has; a command's own default base would silently index references differently from the server. Without
 * `--type`, the rebuild is recorded as pending and resumable (a crash leaves it for the next run or the server's
 * start), and a rebuild already pending is resumed rather than started over. `--rebase` rebuilds for PUBLIC_URL's
 * base and records it: the server has moved.
 */
export async function reindexWithState(db: Database, opts: ReindexRun & { types: string[]; rebase: boolean }, print: (line: string) => void): Promise<number> {
  const state = await readIndexState(db);
  if (opts.rebase) {
    if (!opts.configuredBase) throw new CliError('--rebase needs PUBLIC_URL: the server\'s new public URL, whose FHIR base the index is rebuilt for');
    if (state.base !== opts.configuredBase) print(`moving the search index from FHIR base ${state.base ?? '(not recorded)'} to ${opts.configuredBase}`);
    await requestRebuild(db, { base: opts.configuredBase, reason: state.base === opts.configuredBase ? 'requested (katahdin reindex --rebase)' : `FHIR base moved from ${state.base ?? 'an unrecorded one'}` });
    await runPending(db, opts.configuredBase, opts, print);
    return 0;
  }
  const base = baseFor(state.base, opts, print);
  if (!base) {
    throw new CliError('no FHIR base is recorded for the search index yet (no server has started on this database since the upgrade): '
      + 'set PUBLIC_URL as the server has it, or start the server, which rebuilds the index before it serves');
  }
  if (opts.types.length > 0) {
    await reindexCommand(db, { base, types: opts.types, batchSize: opts.batchSize, everyMs: opts.everyMs }, print);
    if (state.pending) print(`a rebuild of the whole index is still pending (${state.reason}): \`katahdin reindex\` without --type, or the server's next start, carries it out`);
    return 0;
  }
  if (state.pending) print(`resuming the pending rebuild (${state.reason}) after ${state.done} resources`);
  else await requestRebuild(db, { base, reason: 'requested (katahdin reindex)' });
  await runPending(db, base, opts, print);
  return 0;
}

/**
 * After `katahdin migrate`: a pending rebuild is carried out now, for the recorded base, so the server starts without
 * it. When no base is recorded yet and PUBLIC_URL is unset, the command cannot know the server's base and leaves the
 * rebuild to the server's start.
 */
export async function rebuildAfterMigrate(db: Database, opts: ReindexRun, print: (line: string) => void): Promise<void> {
  const state = await readIndexState(db);
  if (!state.pending) return;
  const base = baseFor(state.base, opts, print);
  if (!base) {
    print(`the search index must be rebuilt (${state.reason}); the server does so when it next starts, before it serves, or run \`PUBLIC_URL=<the server's> katahdin reindex\` now`);
    return;
  }
  print(`rebuilding the search index (${state.reason})${state.done > 0 ? `, resuming after ${state.done} resources` : ''}`);
  await runPending(db, base, opts, print);
}

export const REINDEX_COMMANDS: CliCommand[] = [
  {
    name: 'reindex', usage: USAGE, summary: 'rebuild the search index rows of stored resources (online, in batches); --rebase: for a moved PUBLIC_URL',
    async run(args) {
      const { types, rebase } = parseReindexArgs(args);
      return withServices((s) => reindexWithState(s.db, { configuredBase: process.env.PUBLIC_URL ? s.fhirBase : undefined, types, rebase }, console.log), { anyBase: true });
    },
  },
];
