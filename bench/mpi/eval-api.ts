// Database-backed MPI accuracy: every record of a labelled set goes through the real server's FHIR API as a
// source Patient (transaction bundles, system client token); the persons the MPI formed are compared with the truth.
// Usage: node bin/run-ts.mjs bench/mpi/eval-api.ts [--set fake_1000,febrl1|population|all] [--db pglite|postgres]
//        [--batch 50] [--retrain] [--n 5000] [--seed 1]
// --retrain: after the load, `katahdin mpi train` + `katahdin mpi relink` (trainFromStore, relinkAll) and measure again.
import { parseArgs } from 'node:util';
import { relinkAll, trainFromStore } from '../../src/mpi/batch-relink.ts';
import { pairwiseMetrics } from '../../src/mpi/cluster.ts';
import { linkBatch } from '../../src/mpi/link-batch.ts';
import { startTestServer, type TestServer } from '../../test/support/test-server.ts';
import { userWithToken } from '../../test/support/tokens.ts';
import { apiAccuracy, apiSource, loadThroughApi, openTaskCount, personsOf, personsViaFhir, type ApiAccuracy } from './api-load.ts';
import { selectSets, type LabelledSet } from './corpora.ts';

const { values } = parseArgs({
  options: {
    set: { type: 'string', default: 'fake_1000,febrl1' },
    db: { type: 'string', default: 'pglite' },
    batch: { type: 'string', default: '50' },
    retrain: { type: 'boolean', default: false },
    n: { type: 'string', default: '5000' },
    seed: { type: 'string', default: '1' },
  },
});

function row(set: string, phase: string, m: ApiAccuracy, extra: Record<string, unknown>) {
  return {
    set, phase, persons: m.persons, tp: m.truePositives, fp: m.falsePositives, fn: m.falseNegatives,
    precision: m.precision.toFixed(4), recall: m.recall.toFixed(4), f1: m.f1.toFixed(4),
    openTasks: m.openTasks, recallAfterReview: m.recallAfterReview.toFixed(4), ...extra,
  };
}

async function evaluate(server: TestServer, set: LabelledSet) {
  const source = await apiSource(server, `mpi-eval-${set.name}`);
  const loaded = await loadThroughApi(server, source, set.records, Number(values.batch), (n) => process.stderr.write(`\r${set.name}: ${n} records`));
  process.stderr.write('\n');
  const persons = await personsOf(server, loaded.patientIds);
  // Person resources are HIE-level (no source organization): an administrator reads them.
  const admin = await userWithToken(server, { username: `steward-${set.name}`, role: 'admin' });
  const viaFhir = await personsViaFhir(server, admin, loaded.patientIds);
  const mismatches = persons.filter((p, i) => p !== viaFhir[i]).length;
  const rows = [row(set.name, 'incremental (shipped model)', await apiAccuracy(server, loaded.patientIds, persons, set.truth), {
    loadS: loaded.seconds.toFixed(1), recPerS: Math.round(set.records.length / loaded.seconds), droppedDates: loaded.droppedDates, personFhirMismatches: mismatches,
  })];
  if (values.retrain) {
    const t0 = performance.now();
    const trained = await trainFromStore(server.services);
    const t1 = performance.now();
    const relinked = await relinkAll(server.services);
    const t2 = performance.now();
    const after = await personsOf(server, loaded.patientIds);
    // The pure engine with the very same model: the gap is incremental order dependence, not the model.
    const batch = linkBatch(set.records, trained.model);
    const pure = pairwiseMetrics(batch.clusters, set.truth);
    rows.push(row(set.name, 'pure linkBatch, same model', { ...pure, persons: new Set(batch.clusters).size, openTasks: batch.reviews.length, recallAfterReview: NaN }, {}));
    rows.push(row(set.name, `trained v${trained.version} + relink`, await apiAccuracy(server, loaded.patientIds, after, set.truth), {
      trainS: ((t1 - t0) / 1000).toFixed(1), relinkS: ((t2 - t1) / 1000).toFixed(1), moved: relinked.moved, tasksTotal: await openTaskCount(server),
    }));
  }
  return rows;
}

const out = [];
for (const load of selectSets(values.set, { size: Number(values.n), seed: Number(values.seed) })) {
  // A fresh database per set: each set is its own HIE, linked from the shipped default model.
  const server = await startTestServer(values.db === 'postgres' ? 'postgres' : 'pglite');
  try {
    for (const r of await evaluate(server, load())) {
      console.log(JSON.stringify(r));
      out.push(r);
    }
  } finally {
    await server.stop();
  }
}
console.table(out);
