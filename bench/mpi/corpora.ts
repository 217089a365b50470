// Loads the labelled linkage corpora as matcher records plus a truth cluster per record, and chooses the sets an
// evaluation runs. Truth labels are kept apart from the records: the matcher never sees them.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { MpiRecord } from '../../src/mpi/normalize.ts';
import { generatePopulation } from './population.ts';

export interface LabelledSet {
  name: string;
  records: MpiRecord[];
  truth: string[];
}

export const CORPORA_DIR = resolve(process.cwd(), '../shared/corpora');

/** Minimal RFC 4180 reader (quoted fields, doubled quotes); returns rows of raw cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(cell), (cell = '');
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell), rows.push(row), (row = []), (cell = '');
    } else cell += ch;
  }
  if (cell.length > 0 || row.length > 0) row.push(cell), rows.push(row);
  return rows;
}

function readTable(path: string): Array<Record<string, string>> {
  const [header, ...rows] = parseCsv(readFileSync(path, 'utf8'));
  const names = header.map((h) => h.trim());
  return rows
    .filter((r) => r.length === names.length)
    .map((r) => Object.fromEntries(names.map((n, i) => [n, r[i].trim()])));
}

const opt = (v: string | undefined) => (v ? v : undefined);

function febrlDate(v: string): string | undefined {
  return /^\d{8}$/.test(v) ? `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}` : undefined;
}

function febrlRows(file: string, offset: number): { records: MpiRecord[]; truth: string[] } {
  const rows = readTable(resolve(CORPORA_DIR, 'febrl', file));
  return {
    records: rows.map((r, i) => ({
      id: String(offset + i),
      given: r.given_name ? [r.given_name] : [],
      family: r.surname ?? '',
      birthDate: febrlDate(r.date_of_birth ?? ''),
      ssn: opt(r.soc_sec_id),
      street: opt([r.street_number, r.address_1].filter(Boolean).join(' ')),
      city: opt(r.suburb),
      postalCode: opt(r.postcode),
    })),
    truth: rows.map((r) => /^rec-(\d+)-/.exec(r.rec_id)?.[1] ?? `unknown-${r.rec_id}`),
  };
}

function febrl(name: string, files: string[]): LabelledSet {
  const records: MpiRecord[] = [];
  const truth: string[] = [];
  for (const file of files) {
    const part = febrlRows(file, records.length);
    records.push(...part.records);
    truth.push(...part.truth);
  }
  return { name, records, truth };
}

function fake1000(): LabelledSet {
  const rows = readTable(resolve(CORPORA_DIR, 'splink', 'fake_1000.csv'));
  return {
    name: 'fake_1000',
    records: rows.map((r, i) => ({
      id: String(i),
      given: r.first_name ? [r.first_name] : [],
      family: r.surname ?? '',
      birthDate: opt(r.dob),
      city: opt(r.city),
      email: opt(r.email),
    })),
    truth: rows.map((r) => r.cluster),
  };
}

function historical(): LabelledSet {
  const rows = readTable(resolve(CORPORA_DIR, 'splink', 'historical_figures_with_errors_50k.csv'));
  return {
    name: 'historical_50k',
    records: rows.map((r, i) => ({
      id: String(i),
      given: r.first_name ? [r.first_name] : [],
      family: r.surname ?? '',
      birthDate: opt(r.dob),
      sex: r.gender === 'male' || r.gender === 'female' ? r.gender : undefined,
      city: opt(r.birth_place),
      postalCode: opt(r.postcode_fake),
    })),
    truth: rows.map((r) => r.cluster),
  };
}

export const CORPUS_SETS: Record<string, () => LabelledSet> = {
  febrl1: () => febrl('febrl1', ['dataset1.csv']),
  febrl2: () => febrl('febrl2', ['dataset2.csv']),
  febrl3: () => febrl('febrl3', ['dataset3.csv']),
  febrl4: () => febrl('febrl4', ['dataset4a.csv', 'dataset4b.csv']),
  fake_1000: fake1000,
  historical_50k: historical,
};

export function corporaPresent(): boolean {
  return existsSync(resolve(CORPORA_DIR, 'febrl')) && existsSync(resolve(CORPORA_DIR, 'splink'));
}

/**
 * The sets a `--set` argument names, each loaded when called: `all` (every corpus set, then the population) or names
 * separated by commas; `population` is generated with the given size and seed. Unknown names throw before anything
 * runs; corpus sets are left out, with a warning, when ../shared/corpora is absent.
 */
export function selectSets(arg: string, population: { size: number; seed: number }): Array<() => LabelledSet> {
  const names = arg === 'all' ? [...Object.keys(CORPUS_SETS), 'population'] : arg.split(',');
  const unknown = names.filter((n) => n !== 'population' && !Object.hasOwn(CORPUS_SETS, n));
  if (unknown.length) throw new Error(`unknown set ${unknown.join(', ')}`);
  const present = corporaPresent();
  if (!present && names.some((n) => n !== 'population')) console.warn('corpora under ../shared/corpora absent: only --set population can run');
  return names.filter((n) => n === 'population' || present).map((name) => () => {
    if (name !== 'population') return CORPUS_SETS[name]();
    const rows = generatePopulation(population);
    return { name: `population_${population.size}`, records: rows.map((r) => r.record), truth: rows.map((r) => r.truthId) };
  });
}
