import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/access/context.ts';
import { FACILITY_SYSTEM, senderContext } from '../../src/ingest/sender-context.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

describe('the sending organization of a feed', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('pglite');
  }, 60_000);
  afterAll(() => server?.stop());

  it('is found again after a restart when its facility name holds search separators', async () => {
    const s = server.services;
    const facility = 'Smith, Jones & Co|Lab $1 \\ North';
    const first = await senderContext(s, facility, 'mllp');
    // A new process has no registered facilities: a services object with another db key stands for it.
    const restarted = await senderContext({ ...s, db: Object.create(s.db) }, facility, 'mllp');
    expect(first?.organizationId).toBeDefined();
    expect(restarted?.organizationId).toBe(first?.organizationId);
    const orgs = await s.gate.run(systemContext('test'), { action: 'search' }, (scope) => scope.searchType('Organization', [['name', 'Smith']], false));
    expect(orgs.matches.filter((o) => o.resourceType === 'Organization' && o.identifier?.some((i) => i.system === FACILITY_SYSTEM && i.value === facility))).toHaveLength(1);
  });

  it('is not registered when registration is off: an unknown facility has no context, a registered one is found', async () => {
    const s = server.services;
    expect(await senderContext(s, 'NEVER-SEEN', 'mllp', false)).toBeUndefined();
    const orgs = await s.gate.run(systemContext('test'), { action: 'search' }, (scope) => scope.searchType('Organization', [['identifier', `${FACILITY_SYSTEM}|NEVER-SEEN`]], false));
    expect(orgs.matches).toHaveLength(0);
    const known = await senderContext(s, 'KNOWN-FAC', 'mllp');
    const fresh = { ...s, db: Object.create(s.db) };
    expect((await senderContext(fresh, 'KNOWN-FAC', 'mllp', false))?.organizationId).toBe(known?.organizationId);
  });
});
