import { resealInbox } from '../ingest/inbox.ts';
import { rotateDataKey } from '../auth/key-rotation.ts';
import { rotateKeys } from '../auth/field-crypto.ts';
import { relinkAll, trainFromStore } from '../mpi/batch-relink.ts';
import { bulkRelink } from '../mpi/bulk-relink.ts';
import { parseArgs, type ParsedArgs } from './args.ts';
import { CliError } from '../main.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import type { CliCommand } from './commands.ts';
import { withServices } from './context.ts';

/** Checked before opening the database, so a typo is an error and not a training run or a relink of everything. */
function noPositional(p: ParsedArgs, usage: string): void {
  if (p.positional.length > 0) throw new CliError(`unexpected argument "${p.positional[0]}"; usage: katahdin ${usage}`);
}

export const MPI_COMMANDS: CliCommand[] = [
  {
    name: 'mpi train', usage: 'mpi train', summary: 'refit the MPI match model on stored records (unsupervised)',
    async run(args) {
      noPositional(parseArgs(args, []), 'mpi train');
      return withServices(async (s) => {
        const r = await trainFromStore(s);
        console.log(`model version ${r.version} trained on ${r.records} records (prior ${r.model.prior.toFixed(4)}, thresholds ${r.model.thresholds.lower}/${r.model.thresholds.upper})`);
        return 0;
      });
    },
  },
  {
    name: 'mpi relink', usage: 'mpi relink [--batch]', summary: 're-link every source record with the current model',
    async run(args) {
      const p = parseArgs(args, ['batch']);
      noPositional(p, 'mpi relink [--batch]');
      // `--batch no` would otherwise read as a request for the batch pass.
      if (p.flags.batch !== undefined && p.flags.batch !== true) throw new CliError('--batch takes no value');
      return withServices(async (s) => {
        if (p.flags.batch) {
          const b = await bulkRelink(s, (phase: string, done: number) => void process.stderr.write(`\r${phase}: ${done}`));
          console.log(`\n${JSON.stringify(b)}`);
          return 0;
        }
        const r = await relinkAll(s, (n) => process.stderr.write(`\r${n} records`));
        console.log(`\nexamined ${r.examined} records; ${r.moved} moved to another person`);
        return 0;
      });
    },
  },
  {
    name: 'keys rotate', usage: 'keys rotate', summary: 'new data key; re-encrypt SSNs, secrets and inbox bodies; rebuild MPI keys',
    run: () => withServices(async (s) => {
      let inbox: Awaited<ReturnType<typeof resealInbox>> | undefined;
      const report = await rotateDataKey({
        db: s.db,
        config: s.config,
        reencryptOthers: async (crypto) => {
          const others = await rotateKeys(crypto, async (reencrypt) => {
            const rows = await run<{ resource_type: string; id: string; kind: string; ciphertext: string }>(s.db, sql`select resource_type, id, kind, ciphertext from protected_values`);
            for (const r of rows) {
              const next = reencrypt(r.ciphertext);
              if (next) await run(s.db, sql`update protected_values set ciphertext = ${next.ciphertext}, hmac = ${next.keyedHash} where resource_type = ${r.resource_type} and id = ${r.id} and kind = ${r.kind}`);
            }
          });
          inbox = await resealInbox(s.db, crypto);
          return others;
        },
      });
      console.log(JSON.stringify({ ...report, inbox }));
      console.log('rebuild MPI block keys with the new key: run `katahdin mpi relink`');
      return 0;
    }),
  },
];
