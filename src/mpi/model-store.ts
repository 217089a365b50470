import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Database, Queryable } from '../store/database.ts';
import type { MatchModel } from './model.ts';

const DEFAULT_MODEL = fileURLToPath(new URL('./data/default-model.json', import.meta.url));

/**
 * The newest trained model in the database, else the shipped default (fitted unsupervised on a generated
 * population, see docs/MPI.md) so a fresh HIE links from its first record. `katahdin mpi train` refits.
 */
export async function loadMatchModel(db: Queryable): Promise<MatchModel> {
  const rows = await db.query<{ model: MatchModel }>('select model from mpi_models order by version desc limit 1');
  if (rows.rows[0]) return rows.rows[0].model;
  if (!existsSync(DEFAULT_MODEL)) throw new Error('No MPI model: src/mpi/data/default-model.json is missing');
  return JSON.parse(readFileSync(DEFAULT_MODEL, 'utf8')) as MatchModel;
}

export async function saveMatchModel(db: Database, model: MatchModel): Promise<number> {
  const rows = await db.query<{ v: number }>('select coalesce(max(version), 0) + 1 as v from mpi_models');
  const version = rows.rows[0].v;
  await db.query('insert into mpi_models (version, trained_at, model) values ($1, $2, $3)', [version, model.trainedAt, { ...model, version }]);
  return version;
}
