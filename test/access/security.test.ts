import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { getMessage } from '../../src/ingest/inbox.ts';
import { loadOrCreateSigningKeys } from '../../src/auth/keys.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';

const kinds = await databaseKinds();
const SSN_SYSTEM = 'http://hl7.org/fhir/sid/us-ssn';

describe.each(kinds)('security on %s', (kind) => {
  let server: TestServer;
  let orgA: string;
  let orgB: string;
  let tokenA: string;
  let tokenB: string;
  let clinician: string;
  let obsA: string;
  let patientA: string;
  const call = (method: string, url: string, token?: string, body?: unknown, type = 'application/fhir+json') =>
    server.app.inject({
      method: method as 'GET', url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': type }) },
      payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  const count = async () => (await server.services.db.query<{ n: number }>('select count(*)::int as n from resources')).rows[0].n;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = async (name: string) => (await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name }))).resource.id!;
    orgA = await org('Hospital A');
    orgB = await org('Hospital B');
    tokenA = await systemClientToken(server, 'sec-a', orgA);
    tokenB = await systemClientToken(server, 'sec-b', orgB);
    clinician = await userWithToken(server, { username: 'dr.sec', role: 'clinician', organizationId: orgA });
    const p = await call('POST', '/fhir/Patient', tokenA, { resourceType: 'Patient', identifier: [{ system: 'urn:a', value: 'MRN-SEC' }], name: [{ family: 'Securus', given: ['Ann'] }], birthDate: '1970-02-03', gender: 'female' });
    patientA = p.json().id;
    const o = await call('POST', '/fhir/Observation', tokenA, { resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${patientA}` }, code: { text: 'pulse' }, valueQuantity: { value: 71 } });
    obsA = o.json().id;
    expect(obsA).toBeTruthy();
  }, 300_000);
  afterAll(async () => server?.stop());

  describe('tokens', () => {
    const readA = (token?: string, extra: Record<string, string> = {}) =>
      server.app.inject({ method: 'GET', url: `/fhir/Observation/${obsA}`, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra } });

    /** Re-signs a real token's claims with the server's own key, optionally changed: proves the server checks what we change. */
    async function resign(token: string, change: (c: Record<string, unknown>) => Record<string, unknown>, key?: Parameters<SignJWT['sign']>[0], kid?: string) {
      const ring = await loadOrCreateSigningKeys(server.services.config.dataDir);
      const header = decodeProtectedHeader(token);
      const claims = change({ ...decodeJwt(token) });
      return new SignJWT(claims).setProtectedHeader({ alg: header.alg!, kid: kid ?? header.kid, typ: header.typ }).sign(key ?? ring.current.privateKey);
    }

    it('accepts a valid token and a faithful re-signing of it (control)', async () => {
      expect((await readA(tokenA)).statusCode).toBe(200);
      expect((await readA(await resign(tokenA, (c) => c))).statusCode).toBe(200);
    });

    it('refuses missing, malformed, expired, wrong-key, alg:none and altered tokens with 401', async () => {
      const now = Math.floor(Date.now() / 1000);
      const { privateKey } = await generateKeyPair('ES384');
      const [h, p] = tokenA.split('.');
      const altered = JSON.parse(Buffer.from(p, 'base64url').toString());
      altered.org = orgB;
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
      const cases: Array<[string, string | undefined, Record<string, string>?]> = [
        ['missing', undefined],
        ['malformed', 'not-a-jwt'],
        ['basic scheme', undefined, { authorization: 'Basic YWRtaW46YWRtaW4=' }],
        ['expired', await resign(tokenA, (c) => ({ ...c, iat: now - 7200, exp: now - 3600 }))],
        ['wrong key', await resign(tokenA, (c) => c, privateKey)],
        ['wrong key, unknown kid', await resign(tokenA, (c) => c, privateKey, 'attacker-key')],
        ['alg none', none],
        ['changed claims, old signature', `${h}.${Buffer.from(JSON.stringify(altered)).toString('base64url')}.${tokenA.split('.')[2]}`],
        ['wrong audience', await resign(tokenA, (c) => ({ ...c, aud: 'https://elsewhere.example' }))],
        ['wrong issuer', await resign(tokenA, (c) => ({ ...c, iss: 'https://elsewhere.example' }))],
      ];
      for (const [name, token, extra] of cases) {
        const res = await readA(token, extra);
        expect(res.statusCode, name).toBe(401);
        expect(res.body, name).not.toContain('pulse');
      }
    });

    it('a token re-signed with escalated claims by an attacker key still fails; a publicly valid JWKS entry cannot be injected', async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES384');
      const jwk = { ...(await exportJWK(publicKey)), kid: 'evil' };
      const forged = await new SignJWT({ role: 'admin', scope: 'system/*.cruds', org: orgA })
        .setProtectedHeader({ alg: 'ES384', kid: 'evil', jwk }).setIssuer(server.services.config.publicUrl).setAudience(server.services.config.publicUrl)
        .setSubject('attacker').setIssuedAt().setExpirationTime('5m').sign(privateKey);
      expect((await readA(forged)).statusCode).toBe(401);
    });
  });

  describe('tenant isolation for submitting systems', () => {
    it('system B cannot read, search, update or delete organization A\'s data', async () => {
      expect((await call('GET', `/fhir/Observation/${obsA}`, tokenB)).statusCode).toBe(403);
      const search = (await call('GET', `/fhir/Observation?subject=Patient/${patientA}`, tokenB)).json<Bundle>();
      expect(search.total).toBe(0);
      expect((await call('GET', `/fhir/Patient/${patientA}/$everything`, tokenB)).statusCode).toBe(403);
      const put = await call('PUT', `/fhir/Observation/${obsA}`, tokenB, { resourceType: 'Observation', id: obsA, status: 'entered-in-error', code: { text: 'hijack' } });
      expect(put.statusCode).toBe(403);
      expect((await call('DELETE', `/fhir/Observation/${obsA}`, tokenB)).statusCode).toBe(403);
      const tx = await call('POST', '/fhir', tokenB, { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Observation', id: obsA, status: 'cancelled', code: { text: 'hijack' } }, request: { method: 'PUT', url: `Observation/${obsA}` } }] });
      expect(tx.statusCode).toBe(403);
      const still = (await call('GET', `/fhir/Observation/${obsA}`, tokenA)).json<Observation>();
      expect(still).toMatchObject({ status: 'final', meta: { versionId: '1' } });
    });

    it('a conditional update by system B never lands on A\'s resource', async () => {
      const res = await call('PUT', `/fhir/Observation?_id=${obsA}`, tokenB, { resourceType: 'Observation', status: 'cancelled', code: { text: 'hijack' } });
      expect([201, 403]).toContain(res.statusCode);
      if (res.statusCode === 201) expect(res.json().id).not.toBe(obsA);
      expect((await call('GET', `/fhir/Observation/${obsA}`, tokenA)).json<Observation>().status).toBe('final');
    });

    it('what system B writes is stored as B\'s, even about A\'s patient, and A cannot read it back', async () => {
      const res = await call('POST', '/fhir/Observation', tokenB, { resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${patientA}` }, code: { text: 'B note' } });
      expect(res.statusCode).toBe(201);
      const row = (await server.services.db.query<{ source_org: string }>('select source_org from resources where id = $1', [res.json().id])).rows[0];
      expect(row.source_org).toBe(orgB);
      expect((await call('GET', `/fhir/Observation/${res.json().id}`, tokenA)).statusCode).toBe(403);
    });
  });

  describe('injection and traversal', () => {
    const PAYLOADS = [
      `' or '1'='1`, `x'); drop table resources; --`, `1; delete from audit_log`, `") or true --`, `%27%20or%201%3D1--`,
      '../../../../etc/passwd', '..%2F..%2F..%2Fetc%2Fpasswd', '%00', '$(id)', '{"$gt":""}', 'a\\\'b',
    ];

    it('search values, ids, _sort, _include, chains and _has are harmless (400/404 or no rows; tables intact)', async () => {
      const before = await count();
      for (const raw of PAYLOADS) {
        const v = encodeURIComponent(raw);
        const urls = [
          `/fhir/Patient?family=${v}`, `/fhir/Patient?_id=${v}`, `/fhir/Patient?identifier=${v}`, `/fhir/Patient?birthdate=${v}`,
          `/fhir/Observation?_sort=${v}`, `/fhir/Observation?_include=${v}`, `/fhir/Patient?_revinclude=${v}`,
          `/fhir/Observation?patient.family=${v}`, `/fhir/Observation?${v}.family=x`, `/fhir/Patient?_has:Observation:patient:code=${v}`,
          `/fhir/Patient?_has:${v}:patient:code=x`, `/fhir/Patient/${v}`, `/fhir/Patient/${v}/_history`, `/fhir/${v}`, `/fhir/${v}/x`,
          `/fhir/Patient/${v}/$everything`, `/fhir/AuditEvent?agent=${v}`,
        ];
        for (const url of urls) {
          for (const token of [tokenA, clinician]) {
            const res = await server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
            expect(res.statusCode, `${url} → ${res.statusCode}`).toBeLessThan(500);
            expect(res.body).not.toMatch(/root:.*:0:0|syntax error|pg_|relation "/i);
            if (res.statusCode === 200 && res.json().resourceType === 'Bundle') {
              // A junk _sort/_include/_revinclude or parameter name is ignored (lenient handling): the plain search's result, never more.
              const key = decodeURIComponent(url.split('?')[1]?.split('=')[0] ?? '');
              const ignorable = /^(_sort|_include|_revinclude)$/.test(key) || key.includes(raw);
              const plain = ignorable ? (await server.app.inject({ method: 'GET', url: url.split('?')[0], headers: { authorization: `Bearer ${token}` } })).json().total : 0;
              expect(res.json().total ?? 0, url).toBe(plain);
            }
          }
        }
      }
      expect(await count()).toBe(before);
      expect((await server.services.db.query<{ n: number }>('select count(*)::int as n from audit_log')).rows[0].n).toBeGreaterThan(0);
    });

    it('the web app never serves files outside its folder', async () => {
      for (const url of ['/../../../../etc/passwd', '/..%2f..%2f..%2f..%2fetc%2fpasswd', '/assets/..%2f..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/etc/passwd']) {
        const res = await server.app.inject({ method: 'GET', url });
        expect(res.body, url).not.toMatch(/root:.*:0:0|"devDependencies"/);
      }
    });
  });

  describe('social security numbers', () => {
    const SSN = '219-09-1234';
    const DIGITS = ['219-09-1234', '219091234', '219 09 1234'];
    const assertNoSsn = (text: string, where: string) => {
      for (const d of DIGITS) expect(text.includes(d), `${where} contains the SSN`).toBe(false);
    };

    it('are masked in responses to FHIR and HL7 v2 submissions, and never reach logs, errors, the audit log or storage', async () => {
      const created = await call('POST', '/fhir/Patient', tokenA, {
        resourceType: 'Patient', identifier: [{ system: 'urn:a', value: 'MRN-SSN1' }, { system: SSN_SYSTEM, value: SSN }],
        name: [{ family: 'Numbers', given: ['Sam'] }], birthDate: '1966-06-06', gender: 'male',
      });
      expect(created.statusCode).toBe(201);
      assertNoSsn(created.body, 'create response');
      const id = created.json<Patient>().id!;
      const read = await call('GET', `/fhir/Patient/${id}`, tokenA);
      expect(read.json<Patient>().identifier?.find((i) => i.system === SSN_SYSTEM)?.value).toBe('***-**-1234');
      assertNoSsn(read.body, 'read response');

      const hl7 = ['MSH|^~\\&|EHR|B|KATAHDIN|HIE|20261101120000||ADT^A04|CTRL-SSN-1|P|2.5', 'EVN|A04|20261101120000',
        'PID|1||MRN-SSN2^^^B^MR||Digits^Dana||19710707|F|||1 Main St^^Bangor^ME^04401||||||||219-09-1234', 'PV1|1|O'].join('\r');
      const ack = await call('POST', '/hl7v2', tokenB, hl7, 'x-application/hl7-v2+er7');
      expect(ack.statusCode).toBe(200);
      expect(ack.body).toMatch(/MSA\|AA/);
      assertNoSsn(ack.body, 'ACK');
      const found = (await call('GET', '/fhir/Patient?family=Digits', tokenB)).json<Bundle<Patient>>();
      expect(found.total).toBe(1);
      expect(found.entry![0].resource!.identifier?.find((i) => i.system === SSN_SYSTEM)?.value).toBe('***-**-1234');
      assertNoSsn(JSON.stringify(found), 'search response');

      // Searching and failing with the SSN in the request echoes it nowhere.
      // The entries never carry the number (the self link echoes the caller's own query).
      const bySsn = await call('GET', `/fhir/Patient?identifier=${SSN_SYSTEM}|${SSN}`, tokenA);
      assertNoSsn(JSON.stringify(bySsn.json<Bundle>().entry), 'search-by-SSN entries');
      // The search finds the patient by the number, matched against its keyed hash (the index holds only the mask).
      expect(bySsn.json<Bundle>().entry?.map((e) => e.resource?.id)).toEqual([id]);
      for (const [query, expected] of [
        [`identifier=${SSN_SYSTEM}|219091234`, [id]],
        [`identifier=urn:a|no-such-mrn,${SSN_SYSTEM}|${SSN}`, [id]],
        [`identifier=${SSN_SYSTEM}|219-09-1235`, []],
        [`identifier:not=${SSN_SYSTEM}|${SSN}&_id=${id}`, []],
      ] as const) {
        const res = await call('GET', `/fhir/Patient?${query}`, tokenA);
        expect(res.statusCode, query).toBe(200);
        expect(res.json<Bundle>().entry?.map((e) => e.resource?.id) ?? [], query).toEqual(expected);
      }
      const bad = await call('GET', `/fhir/Patient?no-such-param=${SSN}`, tokenA, undefined);
      const strict = await server.app.inject({ method: 'GET', url: `/fhir/Patient?no-such-param=${SSN}`, headers: { authorization: `Bearer ${tokenA}`, prefer: 'handling=strict' } });
      const badId = await call('GET', `/fhir/Patient/${SSN}`, tokenA);
      const badBody = await call('POST', '/fhir/Patient', tokenA, { resourceType: 'Patient', birthDate: SSN, identifier: [{ system: SSN_SYSTEM, value: SSN }] });
      // Bundles' self links echo the caller's own query (reported); everything else must be free of the number.
      const withoutLinks = (body: string) => JSON.stringify({ ...JSON.parse(body), link: undefined });
      for (const [name, res] of [['lenient', bad], ['strict', strict], ['bad id', badId], ['invalid body', badBody]] as const) assertNoSsn(withoutLinks(res.body), `${name} error body`);

      assertNoSsn(server.logs.join('\n'), 'server log');
      const audit = await server.services.db.query<{ t: string }>('select a::text as t from audit_log a');
      assertNoSsn(audit.rows.map((r) => r.t).join('\n'), 'audit_log');
      const events = await server.services.db.query<{ t: string }>('select content::text as t from resources union all select content::text from resource_history');
      assertNoSsn(events.rows.map((r) => r.t).join('\n'), 'stored resources (encrypted at rest)');
    });

    it('are not kept in plaintext in the raw HL7 v2 inbox (bodies are sealed at rest) and still reach the administrator', async () => {
      const inbox = await server.services.db.query<{ t: string }>('select i::text as t from ingest_messages i');
      expect(inbox.rows.length).toBeGreaterThan(0);
      assertNoSsn(inbox.rows.map((r) => r.t).join('\n'), 'stored HL7 messages');
      const ids = await server.services.db.query<{ id: string }>(`select id from ingest_messages where message_type like 'ADT%'`);
      const opened = await getMessage(server.services.db, server.services.auth.fieldCrypto, ids.rows[0].id);
      expect(opened?.raw).toMatch(/^MSH\|/);
    });
  });
});
