import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Shared corpora live beside the repository (../shared/corpora from the repo root). */
export const CORPORA = resolve(process.cwd(), '../shared/corpora');
export const CCDA_DIR = join(CORPORA, 'ccda');
export const ORACLE_DIR = join(CORPORA, 'conversion-oracles/ccda-to-fhir');
export const hasCcdaCorpus = existsSync(join(CCDA_DIR, 'INDEX.csv'));
export const hasOracles = existsSync(join(CORPORA, 'conversion-oracles/INDEX.csv'));

if (!hasCcdaCorpus) console.warn(`corpus ${CCDA_DIR} absent: skipping C-CDA corpus tests`);
if (!hasOracles) console.warn(`corpus ${ORACLE_DIR} absent: skipping C-CDA oracle tests`);

/** Relative paths of every file listed in the C-CDA corpus INDEX.csv. */
export function corpusFiles(): string[] {
  if (!hasCcdaCorpus) return [];
  return readFileSync(join(CCDA_DIR, 'INDEX.csv'), 'utf8')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => line.split(',')[0]);
}

export function readCorpus(file: string): Buffer {
  return readFileSync(join(CCDA_DIR, file));
}

export const NOW = '2026-01-15T12:00:00Z';
