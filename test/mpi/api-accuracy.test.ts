// Database-backed accuracy: fake_1000 goes through POST /fhir (transaction bundles, system client) and the persons
// the MPI formed are scored against the truth. Pinned at what was measured (docs/MPI.md) minus a small margin.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiAccuracy, apiSource, loadThroughApi, personsOf, personsViaFhir, type LoadResult } from '../../bench/mpi/api-load.ts';
import { CORPUS_SETS, corporaPresent, type LabelledSet } from '../../bench/mpi/corpora.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { userWithToken } from '../support/tokens.ts';

const present = corporaPresent();
if (!present) console.warn('corpus ../shared/corpora absent: skipping the MPI API accuracy test');

// One database kind only: loading 1,000 records through the write path is slow on a loaded machine.
describe.skipIf(!present)('MPI accuracy through the FHIR API (fake_1000, PGlite)', () => {
  let server: TestServer;
  let set: LabelledSet;
  let loaded: LoadResult;

  beforeAll(async () => {
    server = await startTestServer('pglite');
    set = CORPUS_SETS.fake_1000();
    loaded = await loadThroughApi(server, await apiSource(server), set.records, 100);
  }, 900_000);
  afterAll(async () => server?.stop());

  it('links every record and never links two different people', async () => {
    expect(loaded.patientIds).toHaveLength(1000);
    const m = await apiAccuracy(server, loaded.patientIds, await personsOf(server, loaded.patientIds), set.truth);
    // Measured 2026-11-25 with the shipped model: precision 1.0000, recall 0.4062, 673 open tasks, recall after review 0.8794.
    expect(m.precision).toBeGreaterThanOrEqual(0.995);
    expect(m.recall).toBeGreaterThanOrEqual(0.38);
    expect(m.openTasks).toBeGreaterThan(0);
    expect(m.recallAfterReview).toBeGreaterThanOrEqual(0.85);
  });

  it('the Person resources mirror the link table', async () => {
    const admin = await userWithToken(server, { username: 'accuracy-admin', role: 'admin' });
    expect(await personsViaFhir(server, admin, loaded.patientIds)).toEqual(await personsOf(server, loaded.patientIds));
  });
});
