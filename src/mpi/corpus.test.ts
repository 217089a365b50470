import { describe, expect, it } from 'vitest';
import { CORPUS_SETS, corporaPresent } from '../../bench/mpi/corpora.ts';
import { pairwiseMetrics } from './cluster.ts';
import { linkBatch } from './link-batch.ts';
import { train } from './model.ts';

const present = corporaPresent();
if (!present) console.warn('corpus ../shared/corpora absent: skipping the MPI corpus test');

// Reached on fake_1000 (docs/MPI.md): precision 1.000, recall 0.917; asserted with a small margin.
describe.skipIf(!present)('fake_1000 corpus (unsupervised)', () => {
  it('links with high precision and recall', () => {
    const set = CORPUS_SETS.fake_1000();
    const model = train(set.records, { seed: 1, now: new Date(0) });
    const metrics = pairwiseMetrics(linkBatch(set.records, model).clusters, set.truth);
    expect(metrics.precision).toBeGreaterThanOrEqual(0.99);
    expect(metrics.recall).toBeGreaterThanOrEqual(0.89);
  });
});
