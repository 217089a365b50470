import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { userWithToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

/** light-my-request's default peer: the "proxy" every injected request comes from. */
const PROXY = '127.0.0.1';
/** A peer that is not in TRUST_PROXY: its X-Forwarded-For must be ignored. */
const STRANGER = '192.0.2.50';

/** The settings as an operator writes them, read through loadConfig: small limits so a budget runs out quickly. */
function settings(env: Record<string, string>): Partial<Config> {
  const c = loadConfig({ AUTH_LOGIN_RATE_LIMIT: '3', AUTH_TOKEN_RATE_LIMIT: '3', PORTAL_SIGNUP_RATE_LIMIT: '2', ...env });
  return { trustProxy: c.trustProxy, authLoginRateLimit: c.authLoginRateLimit, authTokenRateLimit: c.authTokenRateLimit, portalSignupRateLimit: c.portalSignupRateLimit };
}

interface Via { xff?: string; remoteAddress?: string }

function client(server: () => TestServer) {
  const headersOf = (via: Via, extra: Record<string, string> = {}) => ({ ...extra, ...(via.xff ? { 'x-forwarded-for': via.xff } : {}) });
  const lastSeq = async () => Number((await server().services.db.query<{ s: string }>('select coalesce(max(seq), 0) as s from audit_log')).rows[0].s);
  return {
    lastSeq,
    /** source_ip and action of every audit entry written after `seq`. */
    async auditedSince(seq: number) {
      return (await server().services.db.query<{ action: string; source_ip: string | null }>('select action, source_ip from audit_log where seq > $1 order by seq', [seq])).rows;
    },
    /** Opens the sign-in form (not rate-limited) and returns a poster of wrong passwords: 401 (audited), or 429. */
    async signInForm(via: Via) {
      const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
      const query = new URLSearchParams({
        response_type: 'code', client_id: 'katahdin-web', redirect_uri: `${server().services.config.publicUrl}/callback`, state: 's', code_challenge: challenge,
        code_challenge_method: 'S256', scope: 'openid user/*.rs',
      });
      const page = await server().app.inject({ method: 'GET', url: `/oauth/authorize?${query}`, headers: headersOf(via), remoteAddress: via.remoteAddress });
      expect(page.statusCode).toBe(200);
      const cookie = String([page.headers['set-cookie']].flat()[0]).split(';')[0];
      const formToken = /name="form_token" value="([^"]+)"/.exec(page.body)![1];
      return async (post: Via = via) => (await server().app.inject({
        method: 'POST', url: '/oauth/authorize', remoteAddress: post.remoteAddress,
        headers: headersOf(post, { 'content-type': 'application/x-www-form-urlencoded', cookie }),
        payload: new URLSearchParams({ form_token: formToken, username: 'nobody.here', password: 'not-the-password' }).toString(),
      })).statusCode;
    },
    /** A token request with an unknown grant: 400, or 429 when the address's budget is spent. */
    async token(via: Via) {
      return (await server().app.inject({
        method: 'POST', url: '/oauth/token', remoteAddress: via.remoteAddress,
        headers: headersOf(via, { 'content-type': 'application/x-www-form-urlencoded' }), payload: 'grant_type=password',
      })).statusCode;
    },
    /** A portal sign-up start with an empty body: 400, or 429. */
    async signup(via: Via) {
      return (await server().app.inject({
        method: 'POST', url: '/portal/signup/start', remoteAddress: via.remoteAddress, headers: headersOf(via, { 'content-type': 'application/json' }), payload: '{}',
      })).statusCode;
    },
    async fhirSearch(token: string, via: Via) {
      return (await server().app.inject({ method: 'GET', url: '/fhir/Patient', remoteAddress: via.remoteAddress, headers: headersOf(via, { authorization: `Bearer ${token}` }) })).statusCode;
    },
  };
}

const times = async (n: number, f: () => Promise<number>) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await f());
  return out;
};

describe.each(kinds)('behind a reverse proxy (TRUST_PROXY) on %s', (kind) => {
  let server: TestServer;
  const c = client(() => server);

  beforeAll(async () => {
    server = await startTestServer(kind, settings({ TRUST_PROXY: `10.0.0.0/8,${PROXY}` }));
  }, 300_000);
  afterAll(async () => server?.stop());

  it('each client address named by the trusted proxy has its own sign-in budget, and its failed sign-ins are audited under it', async () => {
    const before = await c.lastSeq();
    const alice = await c.signInForm({ xff: '203.0.113.1' });
    expect(await times(4, () => alice())).toEqual([401, 401, 401, 429]);
    // Another user behind the same proxy is not locked out by the first one's attempts.
    const bob = await c.signInForm({ xff: '203.0.113.2' });
    expect(await bob()).toBe(401);
    // A client cannot pick its own address: the proxy appends the peer it saw, and only that entry is believed.
    const spoofer = await c.signInForm({ xff: '203.0.113.2, 198.51.100.7' });
    expect(await spoofer()).toBe(401);
    expect(await c.auditedSince(before)).toEqual([
      ...Array(3).fill({ action: 'login-failed', source_ip: '203.0.113.1' }),
      { action: 'login-failed', source_ip: '203.0.113.2' },
      { action: 'login-failed', source_ip: '198.51.100.7' },
    ]);
  });

  it('each client address has its own token (and revocation/logout) budget and portal sign-up budget', async () => {
    expect(await times(4, () => c.token({ xff: '203.0.113.11' }))).toEqual([400, 400, 400, 429]);
    expect(await c.token({ xff: '203.0.113.12' })).toBe(400);
    expect(await times(3, () => c.signup({ xff: '203.0.113.21' }))).toEqual([400, 400, 429]);
    expect(await c.signup({ xff: '203.0.113.22' })).toBe(400);
  });

  it('FHIR accesses are audited with the client address the proxy forwarded', async () => {
    const token = await userWithToken(server, { username: 'dr.behind.proxy', role: 'clinician' });
    const before = await c.lastSeq();
    expect(await c.fhirSearch(token, { xff: '203.0.113.31' })).toBe(200);
    const entries = await c.auditedSince(before);
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) expect(e.source_ip).toBe('203.0.113.31');
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy: the peer is limited and audited', async () => {
    const before = await c.lastSeq();
    const form = await c.signInForm({ remoteAddress: STRANGER });
    const statuses = [];
    for (const xff of ['203.0.113.41', '203.0.113.42', '203.0.113.43', '203.0.113.44']) statuses.push(await form({ remoteAddress: STRANGER, xff }));
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect(await c.auditedSince(before)).toEqual(Array(3).fill({ action: 'login-failed', source_ip: STRANGER }));
    const tokens = [];
    for (const xff of ['203.0.113.45', '203.0.113.46', '203.0.113.47', '203.0.113.48']) tokens.push(await c.token({ remoteAddress: STRANGER, xff }));
    expect(tokens).toEqual([400, 400, 400, 429]);
  });
});

describe.each(kinds)('without TRUST_PROXY on %s', (kind) => {
  let server: TestServer;
  const c = client(() => server);

  beforeAll(async () => {
    server = await startTestServer(kind, settings({}));
  }, 300_000);
  afterAll(async () => server?.stop());

  it('X-Forwarded-For is ignored: every request is limited and audited as the peer, with one budget', async () => {
    const before = await c.lastSeq();
    const form = await c.signInForm({});
    const statuses = [];
    for (const xff of ['203.0.113.51', '203.0.113.52', '203.0.113.53', '203.0.113.54']) statuses.push(await form({ xff }));
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect(await c.auditedSince(before)).toEqual(Array(3).fill({ action: 'login-failed', source_ip: PROXY }));
    const tokens = [];
    for (const xff of ['203.0.113.55', '203.0.113.56', '203.0.113.57', '203.0.113.58']) tokens.push(await c.token({ xff }));
    expect(tokens).toEqual([400, 400, 400, 429]);
  });
});
