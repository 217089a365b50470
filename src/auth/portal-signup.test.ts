import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldCrypto } from './field-crypto.ts';
import { ssnSafeLoggerOptions } from './log-redaction.ts';
import { createRateLimiter } from './rate-limiter.ts';
import { portalSignupRoutes, type SignupDemographics } from './portal-signup.ts';
import { exchangeCode, signIn, startTestEnv, type TestEnv } from './test-support.ts';

const SSN = '123-45-6789';
const SSN_ANY_FORM = /123[- ]?45[- ]?6789/;
const logLines: string[] = [];
const delivered: { username: string; code: string }[] = [];
const PASSWORD = 'a long enough password';
let env: TestEnv;

/** A stand-in MPI: one known person; a given name of "Broken" simulates an MPI failure whose message holds an SSN. */
async function findPerson(d: SignupDemographics): Promise<string | undefined> {
  if (d.given === 'Broken') throw new Error(`MPI lookup failed for SSN ${SSN}`);
  if (d.family !== 'Rivers' || d.birthDate !== '1980-02-03') return undefined;
  return { Robin: 'person-robin', Sam: 'person-sam', Kim: 'person-kim' }[d.given];
}

beforeAll(async () => {
  const sink = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
  env = await startTestEnv({
    fastify: { logger: { level: 'trace', stream: sink, ...ssnSafeLoggerOptions } },
    register: async (app, auth, events) => {
      await app.register(portalSignupRoutes, {
        auth, findPerson, deliverCode: async (username, code) => void delivered.push({ username, code }),
        audit: async (_tx, e) => void events.push(e), limiter: createRateLimiter({ max: 1000, windowMs: 60_000 }),
      });
    },
  });
});
afterAll(async () => {
  await env.app.close();
  await env.db.close();
});

const start = (body: Record<string, string>) => env.app.inject({ method: 'POST', url: '/portal/signup/start', payload: body });
const verify = (username: string, code: string) => env.app.inject({ method: 'POST', url: '/portal/signup/verify', payload: { username, code } });
const robin = { given: 'Robin', family: 'Rivers', birthDate: '1980-02-03', password: PASSWORD };

describe('patient self-registration', () => {
  it('answers the same whether or not a person matched, and only a match receives a code', async () => {
    const matched = await start({ ...robin, username: 'robin' });
    const unmatched = await start({ ...robin, given: 'Nobody', username: 'nobody' });
    expect(matched.statusCode).toBe(202);
    expect(unmatched.statusCode).toBe(matched.statusCode);
    expect(unmatched.body).toBe(matched.body);
    expect(delivered.map((d) => d.username)).toEqual(['robin']);
    expect((await verify('nobody', '000000')).statusCode).toBe(400);
  });

  it('creates a patient user bound to the person on the right code, who can then sign in', async () => {
    const { code } = delivered.find((d) => d.username === 'robin')!;
    const wrong = code === '000000' ? '000001' : '000000';
    expect((await verify('robin', wrong)).statusCode).toBe(400);
    const ok = await verify('robin', code);
    expect(ok.statusCode).toBe(201);
    expect((await verify('robin', code)).statusCode).toBe(400);
    const user = (await env.auth.listUsers()).find((u) => u.username === 'robin')!;
    expect(user).toMatchObject({ role: 'patient', personId: 'person-robin', displayName: 'Robin Rivers' });
    const login = await signIn(env.app, { username: 'robin', password: PASSWORD, scope: 'openid patient/*.rs' });
    const ctx = await env.auth.verify((await exchangeCode(env.app, login.code!, login.verifier)).json().access_token);
    expect(ctx).toMatchObject({ role: 'patient', personId: 'person-robin' });
  });

  it('sends no code when the person already has an account, with the same answer', async () => {
    delivered.length = 0;
    const again = await start({ ...robin, username: 'robin2' });
    expect(again.statusCode).toBe(202);
    expect(delivered).toEqual([]);
  });

  it('stops accepting codes after 5 wrong attempts and after 10 minutes', async () => {
    delivered.length = 0;
    await start({ ...robin, given: 'Sam', username: 'robin3' });
    const { code } = delivered[0];
    const wrong = code === '999999' ? '999998' : '999999';
    for (let i = 0; i < 5; i++) await verify('robin3', wrong);
    expect((await verify('robin3', code)).statusCode).toBe(400);
    delivered.length = 0;
    await start({ ...robin, given: 'Kim', username: 'robin4' });
    await env.db.query(`update signup_requests set expires_at = now() - interval '1 second' where username = 'robin4'`);
    expect((await verify('robin4', delivered[0].code)).statusCode).toBe(400);
  });

  it('refuses weak passwords and malformed birth dates before asking the MPI', async () => {
    expect((await start({ ...robin, username: 'weak', password: 'short' })).statusCode).toBe(400);
    expect((await start({ ...robin, username: 'weak', birthDate: '03/02/1980' })).statusCode).toBe(400);
  });
});

describe('SSNs never reach the log', () => {
  it('masks an SSN in URLs, log objects and error messages, while the lines themselves are written', async () => {
    await env.app.inject({ method: 'GET', url: `/oauth/authorize?client_id=katahdin-web&ssn=${SSN}` });
    await start({ ...robin, given: 'Broken', username: 'broken' });
    env.app.log.info({ patient: { ssn: '123456789' } }, 'debug dump');
    const crypto = createFieldCrypto({ current: { kid: 'k', key: Buffer.alloc(32, 1) }, all: [{ kid: 'k', key: Buffer.alloc(32, 1) }], source: 'file' });
    try {
      crypto.decrypt(crypto.encrypt(SSN).replace(/:[^:]+$/, ':AAAA'));
    } catch (err) {
      env.app.log.error({ err }, 'decrypt failed');
    }
    const all = logLines.join('');
    expect(all).toContain('/oauth/authorize');
    expect(all).toContain('debug dump');
    expect(all).toContain('***-**-****');
    expect(all).not.toMatch(SSN_ANY_FORM);
  });
});
