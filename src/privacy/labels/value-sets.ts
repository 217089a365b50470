import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { codeKey, normalizeSystem } from './codes.ts';
import type { SensitivityLabel, ValueSetFile, ValueSets } from './value-set-types.ts';

export const VALUE_SET_FILES = ['mental-health.json', 'hiv.json', 'substance-use.json'] as const;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function wordsRe(words: string[]): RegExp {
  return new RegExp(`\\b(?:${words.map(escapeRe).join('|')})\\b`, 'i');
}

/** Compiles parsed value-set files into lookup structures; pure, so tests can pass their own files. */
export function compileValueSets(files: ValueSetFile[]): ValueSets {
  const index = new Map<string, SensitivityLabel[]>();
  for (const f of files) {
    for (const c of f.codes) {
      const key = codeKey(c.system, c.code);
      const labels = index.get(key) ?? [];
      if (!labels.includes(f.label)) labels.push(f.label);
      index.set(key, labels);
    }
  }
  const ranges = files.flatMap((f) =>
    f.ranges.map((r) => ({ ...r, system: normalizeSystem(r.system), label: f.label })),
  );
  const names = files.flatMap((f) =>
    f.names
      ? [{
          label: f.label,
          systems: new Set(f.names.systems.map(normalizeSystem)),
          include: wordsRe(f.names.include),
          exclude: f.names.exclude.length ? wordsRe(f.names.exclude) : undefined,
        }]
      : [],
  );
  const version = combinedVersion(files);
  return { version, files, index, ranges, names };
}

/** e.g. `2026.11.1+9f2c…` — a digest over every file's label and version, for `katahdin privacy relabel`. */
export function combinedVersion(files: ValueSetFile[]): string {
  const parts = files.map((f) => `${f.label}:${f.version}`).sort();
  const release = files.map((f) => f.version.split('+')[0]).sort().at(-1) ?? '0';
  return `${release}+${createHash('sha256').update(parts.join(';')).digest('hex').slice(0, 12)}`;
}

let cached: ValueSets | undefined;

/** Loads the repository's value-set files once per process. */
export function loadValueSets(): ValueSets {
  if (!cached) {
    const files = VALUE_SET_FILES.map(
      (name) => JSON.parse(readFileSync(new URL(`./valuesets/${name}`, import.meta.url), 'utf8')) as ValueSetFile,
    );
    cached = compileValueSets(files);
  }
  return cached;
}

/** The version string stored beside labels so relabelling can find resources labelled with older sets. */
export function valueSetVersion(): string {
  return loadValueSets().version;
}
