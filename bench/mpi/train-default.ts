// Fits the shipped default MPI model, unsupervised, on a seeded generated population (no labels used).
// `node bin/run-ts.mjs bench/mpi/train-default.ts` rewrites src/mpi/data/default-model.json.
import { writeFileSync } from 'node:fs';
import { train } from '../../src/mpi/model.ts';
import { generatePopulation } from './population.ts';

const rows = generatePopulation({ size: 20_000, seed: 20261125 });
const model = train(rows.map((r) => r.record), { version: 0, seed: 7, now: new Date('2026-11-25T00:00:00Z') });
writeFileSync(new URL('../../src/mpi/data/default-model.json', import.meta.url), JSON.stringify(model));
console.log(`default model: ${rows.length} records, prior ${model.prior.toFixed(5)}, thresholds ${JSON.stringify(model.thresholds)}`);
