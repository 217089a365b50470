import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext, type AccessContext } from '../../src/access/context.ts';
import { receiveHl7 } from '../../src/ingest/hl7v2-pipeline.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const kinds = await databaseKinds();

const message = (facility: string, control: string, mrn: string) => [
  `MSH|^~\\&|EHR|${facility}|KATAHDIN|HIE|20260301090000-0500||ADT^A04^ADT_A01|${control}|P|2.5.1`,
  'EVN|A04',
  `PID|1||${mrn}^^^${facility.replace(/[^A-Z0-9]/gi, '')}^MR||RESERVE^RITA||19800101|F`,
  'PV1|1|O',
].join('\r');

/**
 * A feed that names itself (MLLP, import) cannot pass for an authenticated submitter: a facility called `org:<id>`
 * would otherwise act as that organization and take its control ids, so its later messages were answered as copies.
 */
describe.each(kinds)('a feed naming itself like an authenticated submitter on %s', (kind) => {
  let server: TestServer;
  let org: string;
  beforeAll(async () => {
    server = await startTestServer(kind);
    org = (await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'Real Submitter' }))).resource.id!;
  });
  afterAll(async () => server?.stop());

  it('is refused (AR at MSH-4), applies nothing, and leaves the organization\'s own control id free', async () => {
    const s = server.services;
    for (const facility of [`org:${org}`, 'client:some-app', 'cert-refused:cn']) {
      const out = await receiveHl7(s, message(facility, 'SPOOF-1', `M-${facility.length}`), 'import');
      expect(out.status, facility).toBe('rejected');
      expect(out.ack).toMatch(/MSA\|AR\|SPOOF-1/);
      expect(out.ack).toMatch(/\|MSH\^1\^4\|207\^sending facility name is reserved/);
      // A retry refuses it again.
      expect((await receiveHl7(s, message(facility, 'SPOOF-1', `M-${facility.length}`), 'import')).ack).toMatch(/MSA\|AR\|SPOOF-1/);
    }
    const patients = await run<{ n: number }>(s.db, sql`select count(*)::int as n from resources where resource_type = 'Patient' and content::text like '%RESERVE%'`);
    expect(patients[0].n).toBe(0);
    const submitter: AccessContext = { clientId: 'real-ehr', displayName: 'Real EHR', role: 'system', organizationId: org, scopes: ['system/*.cruds'], purposeOfUse: 'TREAT' };
    const real = await receiveHl7(s, message('REALFAC', 'SPOOF-1', 'R-1'), 'http', submitter);
    expect(real.status).toBe('processed');
    expect(real.ack).toMatch(/MSA\|AA\|SPOOF-1/);
  });
});
