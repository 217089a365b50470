import { randomInt, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import type { AuthAuditHook } from './audit-hook.ts';
import { USERNAME_PATTERN, type AuthService } from './auth-service.ts';
import { checkPasswordPolicy, PasswordPolicyError } from './passwords.ts';
import { createRateLimiter, type RateLimiter } from './rate-limiter.ts';
import { findUserByUsername, insertUser } from './users.ts';

/** What the MPI is asked when a patient signs up. */
export interface SignupDemographics {
  given: string;
  family: string;
  birthDate: string;
  postalCode?: string;
}

export interface PortalSignupOptions {
  auth: AuthService;
  /** The MPI: the enterprise person id for a confident match, else undefined. */
  findPerson: (d: SignupDemographics) => Promise<string | undefined>;
  /** Sends the one-time code to the user (the demo logs it). Only called when a person matched. */
  deliverCode: (username: string, code: string) => Promise<void>;
  audit?: AuthAuditHook;
  /** Per-IP limit on start and verify; default: PORTAL_SIGNUP_RATE_LIMIT (10) per minute. */
  limiter?: RateLimiter;
}

const CODE_MINUTES = 10;
const MAX_ATTEMPTS = 5;
const STARTED = { status: 'pending', message: 'If these details match our records, a code is on its way. It expires in 10 minutes.' };
const BAD_CODE = { error: 'invalid_code', message: 'The code is not valid or has expired. Start again to get a new one.' };

interface StartBody extends SignupDemographics {
  username: string;
  password: string;
}

function parseStart(body: unknown): StartBody | string {
  const b = (body ?? {}) as Record<string, unknown>;
  const str = (k: string) => (typeof b[k] === 'string' ? (b[k] as string).trim() : '');
  const out: StartBody = {
    given: str('given'), family: str('family'), birthDate: str('birthDate'), username: str('username'),
    password: typeof b.password === 'string' ? b.password : '',
    ...(str('postalCode') ? { postalCode: str('postalCode') } : {}),
  };
  if (!out.given || !out.family || out.given.length > 100 || out.family.length > 100) return 'given and family names are required';
  if (!/^\d{4}-\d{2}-\d{2}$/.test(out.birthDate) || Number.isNaN(Date.parse(out.birthDate))) return 'birthDate must be YYYY-MM-DD';
  if (!USERNAME_PATTERN.test(out.username)) return 'username must be 2-64 of letters, digits, . _ @ -';
  try {
    checkPasswordPolicy(out.password);
  } catch (err) {
    if (err instanceof PasswordPolicyError) return err.message;
    throw err;
  }
  return out;
}

/**
 * Patient self-registration. `start` answers the same whether or not the MPI found the person, so the endpoint
 * cannot be used to learn who is in the exchange; only a matched person receives a code.
 */
export async function portalSignupRoutes(app: FastifyInstance, opts: PortalSignupOptions): Promise<void> {
  const limiter = opts.limiter ?? createRateLimiter({ max: opts.auth.config.portalSignupRateLimit, windowMs: 60_000 });
  const limited = (handler: (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>) =>
    async (req: FastifyRequest, reply: FastifyReply) =>
      limiter.take(req.ip) ? handler(req, reply) : reply.status(429).send({ error: 'rate_limited', message: 'Too many attempts. Wait a minute.' });
  app.post('/portal/signup/start', limited((req, reply) => startSignup(opts, req, reply)));
  app.post('/portal/signup/verify', limited((req, reply) => verifySignup(opts, req, reply)));
}

const codeHash = (auth: AuthService, username: string, code: string) => auth.fieldCrypto.keyedHash(`signup:${username}:${code}`);

/** The person id to bind to, unless there is none or that person already has an account (same answer either way). */
async function personToBind(opts: PortalSignupOptions, body: StartBody): Promise<string | null> {
  const found = await opts.findPerson({ given: body.given, family: body.family, birthDate: body.birthDate, postalCode: body.postalCode });
  if (!found) return null;
  const taken = await run(opts.auth.db, sql`select 1 from users where role = 'patient' and person_id = ${found}`);
  return taken.length > 0 ? null : found;
}

async function startSignup(opts: PortalSignupOptions, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { auth } = opts;
  const body = parseStart(req.body);
  if (typeof body === 'string') return reply.status(400).send({ error: 'invalid_request', message: body });
  if (await findUserByUsername(auth.db, body.username)) return reply.status(409).send({ error: 'username_taken', message: 'Choose another username.' });
  const personId = await personToBind(opts, body);
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  // Hashed whether or not anyone matched, so the answer takes the same time either way.
  const passwordHash = await auth.hashPassword(body.password);
  await auth.db.transaction(async (tx) => {
    await run(tx, sql`insert into signup_requests (username, code_hash, person_id, display_name, password_hash, expires_at)
      values (${body.username}, ${codeHash(auth, body.username, code)}, ${personId}, ${`${body.given} ${body.family}`}, ${passwordHash},
        now() + make_interval(mins => ${CODE_MINUTES}::int))
      on conflict (username) do update set code_hash = excluded.code_hash, person_id = excluded.person_id,
        display_name = excluded.display_name, password_hash = excluded.password_hash, expires_at = excluded.expires_at,
        attempts = 0, created_at = now()`);
    await opts.audit?.(tx, { type: 'signup', outcome: 'success', sourceIp: req.ip, detail: 'signup-started' });
  });
  if (personId) await opts.deliverCode(body.username, code);
  return reply.status(202).send(STARTED);
}

interface PendingSignup {
  code_hash: string;
  person_id: string | null;
  display_name: string;
  password_hash: string;
  attempts: number;
  live: boolean;
}

function codeMatches(auth: AuthService, r: PendingSignup | undefined, username: string, code: string): r is PendingSignup & { person_id: string } {
  if (!r || !r.live || r.attempts > MAX_ATTEMPTS || !r.person_id) return false;
  const expected = Buffer.from(r.code_hash);
  const given = Buffer.from(codeHash(auth, username, code));
  return expected.length === given.length && timingSafeEqual(expected, given);
}

async function verifySignup(opts: PortalSignupOptions, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { auth } = opts;
  const b = (req.body ?? {}) as Record<string, unknown>;
  const username = typeof b.username === 'string' ? b.username : '';
  const code = typeof b.code === 'string' ? b.code.trim() : '';
  const created = await auth.db.transaction(async (tx) => {
    const rows = await run<PendingSignup>(tx, sql`update signup_requests set attempts = attempts + 1 where username = ${username}
      returning code_hash, person_id, display_name, password_hash, attempts, expires_at > now() as live`);
    const r = rows[0];
    const clash = () => run(tx, sql`select 1 from users where username = ${username} or (role = 'patient' and person_id = ${r?.person_id ?? null})`);
    if (!codeMatches(auth, r, username, code) || (await clash()).length > 0) {
      await opts.audit?.(tx, { type: 'signup', outcome: 'failure', sourceIp: req.ip, detail: 'signup-bad-code' });
      return false;
    }
    const user = await insertUser(tx, {
      username, displayName: r.display_name, role: 'patient', passwordHash: r.password_hash, personId: r.person_id, mfaRequired: false,
    });
    await run(tx, sql`delete from signup_requests where username = ${username}`);
    await opts.audit?.(tx, { type: 'signup', outcome: 'success', username, userId: user.id, sourceIp: req.ip, detail: 'signup-completed' });
    return true;
  });
  return created ? reply.status(201).send({ username }) : reply.status(400).send(BAD_CODE);
}
