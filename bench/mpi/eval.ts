// Unsupervised accuracy evaluation of the MPI matcher on labelled corpora and synthetic populations.
// Usage: node bin/run-ts.mjs bench/mpi/eval.ts [--set all|<set>[,<set>…]] (febrl1 febrl2 febrl3 febrl4 fake_1000 historical_50k population) [--n 20000] [--seed 1]
import { parseArgs } from 'node:util';
import { clusterLinks, pairwiseMetrics } from '../../src/mpi/cluster.ts';
import { linkBatch } from '../../src/mpi/link-batch.ts';
import { linkInOrder } from '../../src/mpi/ordered-link.ts';
import { train } from '../../src/mpi/model.ts';
import { selectSets, type LabelledSet } from './corpora.ts';

const { values } = parseArgs({
  options: {
    set: { type: 'string', default: 'all' },
    n: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '1' },
    upper: { type: 'string' },
    lower: { type: 'string' },
  },
});

function evaluate(set: LabelledSet) {
  const t0 = performance.now();
  const thresholds =
    values.upper !== undefined ? { upper: Number(values.upper), lower: Number(values.lower ?? 4) } : undefined;
  const model = train(set.records, { seed: 1, thresholds, now: new Date(0) });
  const t1 = performance.now();
  const linked = linkBatch(set.records, model);
  const t2 = performance.now();
  const metrics = pairwiseMetrics(linked.clusters, set.truth);
  // What a steward working the review queue could add: review pairs a perfect reviewer would confirm.
  const confirmed = linked.reviews.filter(([i, j]) => set.truth[i] === set.truth[j]);
  const afterReview = pairwiseMetrics(clusterLinks(set.records.length, [...linked.autoLinks, ...confirmed]), set.truth);
  // The write path's semantics (what the Person links hold after loading the records in order, and what `katahdin
  // mpi relink --batch` computes): a record joins the person of its auto-link candidates, never merges two persons.
  let n = 0;
  const ordered = linkInOrder(set.records, model, { newPersonId: () => `p${n++}` });
  const inOrder = pairwiseMetrics(ordered.persons, set.truth);
  return {
    set: set.name,
    records: set.records.length,
    candidates: linked.candidatePairs,
    autoLinks: linked.autoLinks.length,
    reviews: linked.reviews.length,
    tp: metrics.truePositives,
    fp: metrics.falsePositives,
    fn: metrics.falseNegatives,
    precision: metrics.precision.toFixed(4),
    recall: metrics.recall.toFixed(4),
    f1: metrics.f1.toFixed(4),
    recallAfterReview: afterReview.recall.toFixed(4),
    orderedFp: inOrder.falsePositives,
    orderedPrecision: inOrder.precision.toFixed(4),
    orderedRecall: inOrder.recall.toFixed(4),
    prior: model.prior.toExponential(2),
    trainS: ((t1 - t0) / 1000).toFixed(1),
    linkRecPerS: Math.round(set.records.length / ((t2 - t1) / 1000)),
    totalRecPerS: Math.round(set.records.length / ((t2 - t0) / 1000)),
    reasons: JSON.stringify(linked.reasons),
  };
}

const rows = [];
for (const load of selectSets(values.set, { size: Number(values.n), seed: Number(values.seed) })) {
  const row = evaluate(load());
  console.log(JSON.stringify(row));
  rows.push(row);
}
console.table(rows.map(({ reasons, ...rest }) => rest));
