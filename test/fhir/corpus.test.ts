import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken } from '../support/tokens.ts';

const corpora = resolve(process.cwd(), '../shared/corpora');
const present = existsSync(join(corpora, 'synthea-r4')) && existsSync(join(corpora, 'fhir-r4-examples'));
if (!present) console.warn(`NOTICE: corpora absent at ${corpora}: FHIR corpus tests skipped`);

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as Resource;

/** Every corpus file through the public API: Synthea bundles as transactions, spec examples and fixtures one by one. */
describe.skipIf(!present)('FHIR corpora through the API (PGlite)', () => {
  let server: TestServer;
  let token: string;
  const call = (method: 'POST' | 'PUT', url: string, body: unknown) =>
    server.app.inject({ method, url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, payload: JSON.stringify(body) });

  beforeAll(async () => {
    server = await startTestServer('pglite');
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'Corpus Sender' }));
    token = await systemClientToken(server, 'corpus-ehr', org.resource.id!);
  }, 600_000);
  afterAll(async () => server?.stop());

  it('loads every Synthea bundle as a transaction with every entry created', async () => {
    const dir = join(corpora, 'synthea-r4/bundles');
    let entries = 0;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
      const bundle = readJson(join(dir, file)) as Bundle;
      const res = await call('POST', '/fhir', bundle);
      expect(res.statusCode, file).toBe(200);
      const out = res.json() as Bundle;
      expect(out.entry?.every((e) => /^20[01]/.test(e.response?.status ?? '')), file).toBe(true);
      entries += out.entry?.length ?? 0;
    }
    expect(entries).toBe(6520);
  }, 1_200_000);

  it('accepts each spec example and fixture or rejects it with a reasoned OperationOutcome', async () => {
    const files = [
      ...readdirSync(join(corpora, 'fhir-r4-examples/spec-examples')).map((f) => join(corpora, 'fhir-r4-examples/spec-examples', f)),
      ...readdirSync(join(corpora, 'fhir-r4-examples/ms-fhir-server-fixtures')).map((f) => join(corpora, 'fhir-r4-examples/ms-fhir-server-fixtures', f)),
    ].filter((f) => f.endsWith('.json'));
    const outcomes: Record<string, number> = {};
    for (const file of files) {
      const resource = readJson(file);
      const isTx = resource.resourceType === 'Bundle' && ['transaction', 'batch'].includes((resource as Bundle).type);
      const res = isTx ? await call('POST', '/fhir', resource)
        : resource.id ? await call('PUT', `/fhir/${resource.resourceType}/${resource.id}`, resource)
        : await call('POST', `/fhir/${resource.resourceType}`, resource);
      expect(res.statusCode, file).toBeLessThan(500);
      if (res.statusCode >= 400) {
        const oo = res.json() as OperationOutcome;
        expect(oo.resourceType, file).toBe('OperationOutcome');
        expect(oo.issue?.[0]?.diagnostics?.length ?? 0, file).toBeGreaterThan(0);
      }
      const key = `${res.statusCode}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    console.log('spec examples and fixtures by status:', outcomes);
    const accepted = (outcomes['200'] ?? 0) + (outcomes['201'] ?? 0);
    expect(accepted).toBeGreaterThan(files.length * 0.75);
  }, 600_000);
});
