import { join } from 'node:path';
import { retentionCutoff } from '../audit/archive.ts';
import { auditCheckpoint, auditExport, auditVerify, auditVerifyArchive, type CommandResult } from '../audit/cli-commands.ts';
import { loadConfig } from '../config.ts';
import { openDatabase } from '../services.ts';
import type { Database } from '../store/database.ts';
import { migrate } from '../store/migrate.ts';
import { parseArgs, requireFlag } from './args.ts';
import type { CliCommand } from './commands.ts';

/** Opens the configured database, runs one audit command, prints its text; the exit status says whether it passed. */
async function withAuditDb<T>(fn: (db: Database, keyDir: string) => Promise<CommandResult<T>>): Promise<number> {
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    await migrate(db);
    const out = await fn(db, join(config.dataDir, 'keys'));
    (out.ok ? console.log : console.error)(out.text);
    return out.ok ? 0 : 1;
  } finally {
    await db.close();
  }
}

export const AUDIT_COMMANDS: CliCommand[] = [
  {
    name: 'audit verify', usage: 'audit verify', summary: 'walk the audit hash chain and signed checkpoints; report the first bad entry',
    run: () => withAuditDb((db, keyDir) => auditVerify(db, keyDir)),
  },
  {
    name: 'audit checkpoint', usage: 'audit checkpoint', summary: 'sign the last entry of every audit chain (Ed25519 key in DATA_DIR/keys)',
    run: () => withAuditDb((db, keyDir) => auditCheckpoint(db, keyDir)),
  },
  {
    name: 'audit export', usage: 'audit export [--before <date>] --out <file>',
    summary: 'archive audit entries before a date (default: older than AUDIT_RETENTION_YEARS) as NDJSON with chain hashes; rows are kept',
    async run(args) {
      const p = parseArgs(args, ['before', 'out']);
      const before = p.flags.before === undefined ? retentionCutoff(loadConfig().auditRetentionYears) : new Date(requireFlag(p, 'before'));
      const out = requireFlag(p, 'out');
      return withAuditDb((db) => auditExport(db, { before, out }));
    },
  },
  {
    name: 'audit verify-archive', usage: 'audit verify-archive --file <file>',
    summary: "check an exported archive: its chains, its manifest, the log's record of the export and the live hashes",
    async run(args) {
      const file = requireFlag(parseArgs(args, ['file']), 'file');
      return withAuditDb((db) => auditVerifyArchive(db, file));
    },
  },
];
