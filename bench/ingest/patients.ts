import { generatePopulation } from '../mpi/population.ts';
import type { MpiRecord } from '../../src/mpi/normalize.ts';
import { seededRng } from '../../src/mpi/random.ts';

/** A patient as a sending system knows it: its medical record number and demographics. */
export interface FeedPatient {
  mrn: string;
  record: MpiRecord;
}

const ACTIVE = 40;
const NEW_PATIENT = 1 / 3;

/**
 * The patients of a bench feed: registrations from the seeded synthetic population of the MPI benchmarks (households
 * with a shared surname and address, twins, a person registered more than once with typos and nicknames), each
 * sending several messages interleaved with the others' — an admission, its updates, results — as a hospital's feed
 * does: about three messages per registration, 40 patients active at a time. Until 2026-12-06 every message carried
 * the demographics of one of 14 corpus templates under a new MRN, so each new patient matched hundreds of earlier ones
 * (a review task for most): the MPI's worst case, not a feed.
 */
export function patientStream(seed: number, runId: string, registrations = 60_000): () => FeedPatient {
  const population = generatePopulation({ size: registrations, seed });
  const rng = seededRng(seed + 1);
  let next = 0;
  const fresh = (): FeedPatient => {
    const { record } = population[next++ % population.length];
    return { mrn: `${record.id}-${runId}`, record };
  };
  const active: FeedPatient[] = Array.from({ length: ACTIVE }, fresh);
  return () => {
    const slot = Math.floor(rng() * ACTIVE);
    if (rng() < NEW_PATIENT) active[slot] = fresh();
    return active[slot];
  };
}
