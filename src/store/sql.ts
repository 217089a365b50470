/**
 * A tiny SQL builder that always binds values as parameters. Fragments compose freely; numbering
 * of `$n` placeholders happens once, in `toQuery`, so composed fragments can never collide.
 */
export class Sql {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
    /** Planned for its values each time it runs, never from a prepared generic plan (see `plannedPerValues`). */
    readonly perValues = false,
  ) {}
}

type SqlPart = Sql | unknown;

/** `sql\`select * from t where id = ${id}\`` — interpolated values become parameters, nested Sql fragments are inlined. */
export function sql(strings: TemplateStringsArray, ...parts: SqlPart[]): Sql {
  const outStrings: string[] = [strings[0]];
  const outValues: unknown[] = [];
  let perValues = false;
  parts.forEach((part, i) => {
    if (part instanceof Sql) {
      perValues ||= part.perValues;
      outStrings[outStrings.length - 1] += part.strings[0];
      for (let j = 0; j < part.values.length; j++) {
        outValues.push(part.values[j]);
        outStrings.push(part.strings[j + 1]);
      }
      outStrings[outStrings.length - 1] += strings[i + 1];
    } else {
      outValues.push(part);
      outStrings.push(strings[i + 1]);
    }
  });
  return new Sql(outStrings, outValues, perValues);
}

/**
 * Marks a statement whose best plan depends on its values (a search: how selective a code, a date range or a name
 * is), so it is never run from a prepared statement's generic plan, which PostgreSQL keeps once it looks no worse
 * than the custom ones: measured, a search planned generically went from 8 to 40–80 ms after 9,000 more rows.
 * The mark survives composition: a statement that embeds the fragment is planned per values too.
 */
export function plannedPerValues(fragment: Sql): Sql {
  return new Sql(fragment.strings, fragment.values, true);
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

/** Inline SQL text that never comes from user input (keywords, whitelisted identifiers). */
export function raw(text: string): Sql {
  return new Sql([text], []);
}

/** A column or table name; refuses anything that is not a plain lower-case identifier. */
export function ident(name: string): Sql {
  if (!IDENTIFIER.test(name)) throw new Error(`unsafe SQL identifier: ${JSON.stringify(name)}`);
  return raw(name);
}

export function join(fragments: Sql[], separator: string): Sql {
  if (fragments.length === 0) return raw('');
  return fragments.slice(1).reduce((acc, f) => sql`${acc}${raw(separator)}${f}`, fragments[0]);
}

export const empty = raw('');

/**
 * A PostgreSQL array literal (`{"a","b",NULL}`) as a bind value, for arrays that are sent again and again unchanged:
 * built once and cached by the caller, where the driver would serialise the array on every run.
 */
export function arrayLiteral(values: ReadonlyArray<string | number | boolean | null>): string {
  return `{${values.map((v) => (v === null ? 'NULL' : `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`;
}

export interface Query {
  text: string;
  values: unknown[];
  /** False for statements planned per values (`plannedPerValues`). */
  prepare: boolean;
}

export function toQuery(fragment: Sql): Query {
  let text = fragment.strings[0];
  for (let i = 0; i < fragment.values.length; i++) text += `$${i + 1}${fragment.strings[i + 1]}`;
  return { text, values: [...fragment.values], prepare: !fragment.perValues };
}
