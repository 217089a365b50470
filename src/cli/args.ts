import { CliError } from '../main.ts';

export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | true>;
}

/** `--name value`, `--name=value` and bare `--flag`; only the flags a command declares are accepted. */
export function parseArgs(args: string[], known: string[]): ParsedArgs {
  const out: ParsedArgs = { positional: [], flags: {} };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) {
      out.positional.push(a);
      continue;
    }
    const [key, inline] = a.slice(2).split('=', 2);
    if (!known.includes(key)) throw new CliError(`unknown option --${key}`);
    if (inline !== undefined) out.flags[key] = inline;
    else if (args[i + 1] !== undefined && !args[i + 1].startsWith('--')) out.flags[key] = args[++i];
    else out.flags[key] = true;
  }
  return out;
}

export function requireFlag(p: ParsedArgs, name: string): string {
  const v = p.flags[name];
  if (typeof v !== 'string' || !v) throw new CliError(`--${name} <value> is required`);
  return v;
}
