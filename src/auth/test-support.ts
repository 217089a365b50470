/** Shared set-up for the auth tests: an in-memory database, a temporary key folder, a Fastify app, a browser. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyServerOptions, type LightMyRequestResponse } from 'fastify';
import { loadConfig, type Config } from '../config.ts';
import type { Database } from '../store/database.ts';
import { splitStatements } from '../store/migrate.ts';
import { openPglite } from '../store/pglite-database.ts';
import { openPostgres } from '../store/postgres-database.ts';
import { PG_URL, throwawaySchema } from '../../test/support/databases.ts';
import type { AuthAuditEvent } from './audit-hook.ts';
import { createAuthService, type AuthService } from './auth-service.ts';
import { oauthRoutes } from './oauth-routes.ts';
import { createRateLimiter, type RateLimiter } from './rate-limiter.ts';
import { installAuth } from './request-auth.ts';
import { currentTotp } from './totp.ts';

/** Real Argon2id, cheaper than production so the suite stays quick. */
export const TEST_ARGON2_COST = { memoryCost: 4096, timeCost: 1, parallelism: 1 };

export const PUBLIC_URL = 'http://katahdin.test';
export const REDIRECT = `${PUBLIC_URL}/callback`;

/** Only this module's migrations, so the auth tests do not depend on other folders' work in progress. */
export async function openAuthDb(): Promise<Database> {
  return migrateAuth(await openPglite());
}

const AUTH_MIGRATIONS = ['0003_auth.sql', '0020_revoked_tokens.sql'];

async function migrateAuth(db: Database): Promise<Database> {
  for (const file of AUTH_MIGRATIONS) {
    const text = await readFile(new URL(`../store/migrations/${file}`, import.meta.url), 'utf8');
    for (const statement of splitStatements(text)) await db.query(statement);
  }
  return db;
}

/** The same on either database; on PostgreSQL in a throwaway schema, dropped by `close`. */
export async function openAuthDbOf(kind: 'pglite' | 'postgres'): Promise<{ db: Database; close: () => Promise<void> }> {
  if (kind === 'pglite') {
    const db = await openAuthDb();
    return { db, close: () => db.close() };
  }
  const schema = await throwawaySchema();
  const db = await migrateAuth(await openPostgres({ url: PG_URL, schema: new URL(schema.url).searchParams.get('schema') ?? undefined }));
  return { db, close: async () => { await db.close(); await schema.drop(); } };
}

export async function testConfig(env: Record<string, string> = {}): Promise<Config> {
  const dataDir = await mkdtemp(join(tmpdir(), 'katahdin-auth-'));
  return loadConfig({ DATA_DIR: dataDir, PUBLIC_URL, ...env });
}

export interface TestEnv {
  db: Database;
  config: Config;
  auth: AuthService;
  app: FastifyInstance;
  events: AuthAuditEvent[];
}

/** A server with the OAuth routes and one protected route `/whoami` that echoes `request.ctx`. */
export interface TestEnvOptions {
  env?: Record<string, string>;
  /** Fastify options (e.g. a logger writing to a test stream). */
  fastify?: FastifyServerOptions;
  /** Database to use (default: a fresh in-memory PGlite with the auth tables). */
  db?: Database;
  /** Clock of the token caches. */
  clock?: () => number;
  /** The token endpoint's per-IP limiter (shared with revocation and logout); default: one too generous to matter. */
  tokenLimiter?: RateLimiter;
  /** More routes to register before the app is ready. */
  register?: (app: FastifyInstance, auth: AuthService, events: AuthAuditEvent[]) => Promise<void>;
}

export async function startTestEnv(opts: TestEnvOptions = {}): Promise<TestEnv> {
  const db = opts.db ?? (await openAuthDb());
  const config = await testConfig(opts.env);
  const auth = await createAuthService({ db, config, argon2Cost: TEST_ARGON2_COST, clock: opts.clock });
  await auth.ensureBuiltinClients();
  const events: AuthAuditEvent[] = [];
  const app = Fastify(opts.fastify);
  const generous = createRateLimiter({ max: 10_000, windowMs: 60_000 });
  await app.register(oauthRoutes, {
    db, config, auth, audit: async (_tx, e) => void events.push(e), loginLimiter: generous, tokenLimiter: opts.tokenLimiter ?? generous,
  });
  await app.register(async (protectedApp) => {
    installAuth(protectedApp, auth);
    protectedApp.get('/whoami', async (req) => req.ctx);
  });
  await opts.register?.(app, auth, events);
  await app.ready();
  return { db, config, auth, app, events };
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function formTokenOf(html: string): string {
  const m = /name="form_token" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no form token in page');
  return m[1];
}

export function cookieOf(res: LightMyRequestResponse): string {
  const raw = res.headers['set-cookie'];
  const first = Array.isArray(raw) ? raw[0] : raw;
  if (!first) throw new Error('no cookie set');
  return first.split(';')[0];
}

export function postForm(app: FastifyInstance, url: string, form: Record<string, string>, cookie?: string) {
  return app.inject({
    method: 'POST', url, payload: new URLSearchParams(form).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
  });
}

export interface BrowserLogin {
  username: string;
  password: string;
  /** TOTP secret (base32) when the account uses one; the current code is typed at the second step. */
  totpSecret?: string;
  scope?: string;
}

export interface LoginResult {
  /** The final response of the sign-in POSTs (303 on success). */
  last: LightMyRequestResponse;
  code?: string;
  verifier: string;
}

/** Walks the sign-in pages like a browser: authorize → password → (TOTP) → redirect with the code. */
export async function signIn(app: FastifyInstance, login: BrowserLogin): Promise<LoginResult> {
  const { verifier, challenge } = pkcePair();
  const query = new URLSearchParams({
    response_type: 'code', client_id: 'katahdin-web', redirect_uri: REDIRECT, scope: login.scope ?? 'openid fhirUser user/*.rs patient/*.rs',
    state: 'state-123', code_challenge: challenge, code_challenge_method: 'S256', aud: `${PUBLIC_URL}/fhir`,
  });
  const page = await app.inject({ method: 'GET', url: `/oauth/authorize?${query}` });
  if (page.statusCode !== 200) throw new Error(`authorize page answered ${page.statusCode}`);
  const cookie = cookieOf(page);
  let last = await postForm(app, '/oauth/authorize', { form_token: formTokenOf(page.body), username: login.username, password: login.password }, cookie);
  if (last.statusCode === 200 && last.body.includes('name="code"') && login.totpSecret) {
    last = await postForm(app, '/oauth/authorize', { form_token: formTokenOf(last.body), code: currentTotp(login.totpSecret) }, cookie);
  }
  const location = last.headers.location;
  const code = last.statusCode === 303 && typeof location === 'string' ? new URL(location).searchParams.get('code') ?? undefined : undefined;
  return { last, code, verifier };
}

export async function exchangeCode(app: FastifyInstance, code: string, verifier: string) {
  return postForm(app, '/oauth/token', { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: 'katahdin-web' });
}

export function secretOfUri(uri: string): string {
  return new URL(uri).searchParams.get('secret')!;
}
