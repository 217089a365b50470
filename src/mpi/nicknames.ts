// Nickname equivalence (William/Bill, Margaret/Peggy) from the carltonnorthern/nicknames list in data/.
import { readFileSync } from 'node:fs';

/**
 * Parses `name1,relationship,name2` rows into name → set of canonical names it belongs to.
 * The list also holds reverse rows (`bill,has_nickname,william`); counting a short name as a canonical
 * would chain unrelated names (WILLIAM–BILL–ROBERT), so such rows only relate their own two names.
 */
export function parseNicknames(csv: string): Map<string, Set<string>> {
  const groups = new Map<string, Set<string>>();
  const add = (name: string, canonical: string) => {
    let set = groups.get(name);
    if (!set) groups.set(name, (set = new Set()));
    set.add(canonical);
  };
  for (const line of csv.split(/\r?\n/)) {
    const [name1, relation, name2] = line.split(',').map((s) => s.trim().toUpperCase());
    if (!name1 || !name2 || relation !== 'HAS_NICKNAME') continue;
    add(name1, name1);
    if (name1.length >= name2.length) add(name2, name1);
    else add(name2, `${name1}>${name2}`), add(name1, `${name1}>${name2}`);
  }
  return groups;
}

let table: Map<string, Set<string>> | undefined;

function nicknameTable(): Map<string, Set<string>> {
  table ??= parseNicknames(readFileSync(new URL('./data/nicknames.csv', import.meta.url), 'utf8'));
  return table;
}

/** True when two different normalised (upper-case) first names share a canonical name. */
export function areNicknames(a: string, b: string): boolean {
  if (a === b || a.length === 0 || b.length === 0) return false;
  const ga = nicknameTable().get(a);
  const gb = nicknameTable().get(b);
  if (!ga || !gb) return false;
  for (const canonical of ga) if (gb.has(canonical)) return true;
  return false;
}

/** Canonical names of a first name (itself included), for nickname-tolerant block keys. */
export function canonicalNames(name: string): string[] {
  const set = nicknameTable().get(name);
  if (!set) return [name];
  // Shared canonical names first: they are the ones that connect a nickname to its full name.
  const plain = [...set].filter((c) => !c.includes('>')).sort();
  const pairs = [...set].filter((c) => c.includes('>')).sort();
  return plain.concat(pairs);
}
