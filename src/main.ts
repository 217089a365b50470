import { ConfigError } from './config.ts';
import { COMMANDS, type CliCommand } from './cli/commands.ts';

export const USAGE = `Katahdin — health information exchange

Usage: katahdin <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.usage.padEnd(44)} ${c.summary}`).join('\n')}

Configuration comes from environment variables (see README.md).`;

/** CLI entry point: returns the process exit code; bad arguments print usage and return 2. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const words = [name, args[0]].filter(Boolean).join(' ');
  const command: CliCommand | undefined = COMMANDS.find((c) => c.name === words) ?? COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`katahdin: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  const rest = command.name.includes(' ') ? args.slice(1) : args;
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof CliError) {
      console.error(`katahdin ${command.name}: ${err.message}`);
      return 2;
    }
    console.error(`katahdin ${command.name}: failed: ${(err as Error).message}`);
    return 1;
  }
}

export class CliError extends Error {}
