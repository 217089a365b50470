import { hkdfSync } from 'node:crypto';
import type { AccessContext } from '../access/context.ts';
import type { Config } from '../config.ts';
import { run, type Database, type Queryable } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import {
  ensureBuiltinClients, findClient, insertClient, listClients, setClientDisabled,
  type Client, type NewClient,
} from './clients.ts';
import { createFieldCrypto, rotateKeys, type FieldCrypto } from './field-crypto.ts';
import { findDataKeySync, jwks, loadOrCreateDataKeys, loadOrCreateSigningKeys, type DataKeyRing, type SigningKeyRing } from './keys.ts';
import { checkPasswordPolicy, hashPassword, type Argon2Cost } from './passwords.ts';
import { endUserSessions } from './sessions.ts';
import { fhirUserOf, subjectForClient, subjectForUser } from './subjects.ts';
import { createTokenIssuer, type IssuedAccessToken, type TokenIssuer, type TokenSubject, type VerifiedContext } from './tokens.ts';
import { cachedVerifier } from './token-cache.ts';
import { createTokenLiveness, holdersOf, type Holder } from './token-liveness.ts';
import { newTotpSecret } from './totp.ts';
import {
  findUserByUsername, insertUser, listUsers, MFA_ROLES, setPasswordHash, setTotpSecret, setUserDisabled, USER_ROLES,
  type User, type UserRole, type UserSummary,
} from './users.ts';

export interface NewUser {
  username: string;
  password: string;
  role: UserRole;
  displayName: string;
  organizationId?: string;
  practitionerId?: string;
  personId?: string;
  mfaRequired?: boolean;
}

/** Bad input to a management call (CLI / admin API): the message is safe to show. */
export class AuthInputError extends Error {
  override name = 'AuthInputError';
}

/**
 * Runs the statements of a change to an account (they resolve to its id) in a transaction: by default one of the
 * account store's own; an administrator's request passes the gate's, so that the change commits with its audit entry.
 */
export type AccountTransaction = (change: (tx: Queryable) => Promise<string>) => Promise<string>;

export interface AuthService {
  readonly db: Database;
  readonly config: Config;
  readonly fieldCrypto: FieldCrypto;
  readonly tokens: TokenIssuer;
  /** `<publicUrl>/oauth/token`: the `aud` client assertions must carry. */
  readonly tokenUrl: string;
  /** HMAC secret for the login form's signed state (derived from the data key; rotating it voids open forms only). */
  readonly formSecret: Uint8Array;
  jwks(): { keys: object[] };
  verify(token: string): Promise<VerifiedContext>;
  addUser(u: NewUser): Promise<UserSummary>;
  addClient(c: NewClient): Promise<Client>;
  listUsers(): Promise<UserSummary[]>;
  listClients(): Promise<Client[]>;
  /**
   * Disabling also ends the user's sessions; their access tokens are refused at once in this process and within
   * LIVENESS_CHECK_MS in the others. The same holds for a client and every token issued to it.
   */
  setUserDisabled(username: string, disabled: boolean, inTransaction?: AccountTransaction): Promise<void>;
  setClientDisabled(clientId: string, disabled: boolean, inTransaction?: AccountTransaction): Promise<void>;
  /** A session ended inside a transaction that has committed: refuse its access tokens here from now on. */
  sessionEnded(sessionId: string): void;
  /** An access token revoked on its own (`revokeAccessToken`) in a transaction that has committed: refuse it here from now on. */
  accessTokenRevoked(tokenId: string): void;
  setPassword(username: string, password: string): Promise<void>;
  /** Enrols (or re-enrols) TOTP and returns the otpauth:// URI to hand to the user. */
  enrolTotp(username: string): Promise<string>;
  mintTokenForUser(username: string, opts?: { scopes?: string[] }): Promise<IssuedAccessToken>;
  mintTokenForClient(clientId: string, opts?: { scopes?: string[] }): Promise<IssuedAccessToken>;
  /** What a system client may do now, as its tokens would say (for work done on its behalf later); undefined when unknown or disabled. */
  clientContext(clientId: string): Promise<AccessContext | undefined>;
  ensureBuiltinClients(): Promise<void>;
  /** What a token for this user, through this client, may say. */
  subjectForUser(user: User, client: Client, requested: string[] | undefined, sessionId?: string): TokenSubject;
  subjectForClient(client: Client, requested: string[] | undefined): TokenSubject;
  /** fhirUser for id_tokens: Practitioner for clinicians, Person for patients. */
  fhirUser(user: User): string | undefined;
  /** Re-encrypts TOTP secrets with the newest data key (part of `katahdin keys rotate`). */
  rotateSecrets(): Promise<{ examined: number; reencrypted: number }>;
  /** Argon2id with the service's cost settings (used by portal sign-up). */
  hashPassword(password: string): Promise<string>;
}

export interface AuthServiceOptions {
  db: Database;
  config: Config;
  /** Tests may inject keys; otherwise they are loaded from (or created in) `<dataDir>/keys/`. */
  signingKeys?: SigningKeyRing;
  dataKeys?: DataKeyRing;
  /** Argon2id cost; tests lower it to stay fast. Verification reads the cost from each stored hash. */
  argon2Cost?: Argon2Cost;
  /** Milliseconds clock of the token caches (tests move it instead of sleeping). */
  clock?: () => number;
}

export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$/;

function validateUser(u: NewUser): void {
  if (!USERNAME_PATTERN.test(u.username)) throw new AuthInputError('username must be 2-64 of letters, digits, . _ @ -');
  if (!USER_ROLES.includes(u.role)) throw new AuthInputError(`role must be one of ${USER_ROLES.join(', ')}`);
  if (!u.displayName.trim()) throw new AuthInputError('display name is required');
  if (u.role === 'patient' && !u.personId) throw new AuthInputError('a patient user must be bound to a person');
  if (u.role !== 'patient' && u.personId) throw new AuthInputError('only patient users are bound to a person');
  try {
    checkPasswordPolicy(u.password);
  } catch (err) {
    throw new AuthInputError((err as Error).message);
  }
}

export async function createAuthService(opts: AuthServiceOptions): Promise<AuthService> {
  const { db, config } = opts;
  const signingKeys = opts.signingKeys ?? (await loadOrCreateSigningKeys(config.dataDir));
  const dataKeys = opts.dataKeys ?? (await loadOrCreateDataKeys(config.dataDir, config.dataKey));
  const fieldCrypto = createFieldCrypto(dataKeys, (kid) => findDataKeySync(config.dataDir, kid));
  const tokens = createTokenIssuer({
    keys: signingKeys, issuer: config.publicUrl, audience: config.publicUrl, accessTokenSeconds: config.accessTokenSeconds,
  });

  const verifier = cachedVerifier((token) => tokens.verify(token), { clock: opts.clock });
  const liveness = createTokenLiveness({ db, clock: opts.clock });
  /** Called once the change is committed, so another process asking the database sees the same. */
  const revoked = (h: Holder) => {
    liveness.ended(h);
    verifier.forget((ctx) => holdersOf(ctx).some((o) => o.kind === h.kind && o.id === h.id));
  };

  /** After an account change has committed. */
  const accountChanged = (h: Holder, disabled: boolean) => (disabled ? revoked(h) : liveness.restored(h));
  const ownTransaction: AccountTransaction = (change) => db.transaction(change);

  const requireUser = async (username: string, tx: Queryable = db): Promise<User> => {
    const user = await findUserByUsername(tx, username);
    if (!user) throw new AuthInputError(`no user named ${username}`);
    return user;
  };

  const service: AuthService = {
    db, config, fieldCrypto, tokens,
    tokenUrl: `${config.publicUrl}/oauth/token`,
    formSecret: new Uint8Array(hkdfSync('sha256', dataKeys.current.key, Buffer.alloc(0), 'katahdin/login-form', 32)),
    jwks: () => jwks(signingKeys),
    async verify(token) {
      const ctx = await verifier.verify(token);
      await liveness.check(ctx);
      return ctx;
    },
    async addUser(u) {
      validateUser(u);
      if (await findUserByUsername(db, u.username)) throw new AuthInputError(`username ${u.username} is taken`);
      const user = await insertUser(db, {
        ...u,
        passwordHash: await hashPassword(u.password, opts.argon2Cost),
        mfaRequired: u.mfaRequired === true || MFA_ROLES.includes(u.role),
      });
      const { passwordHash: _p, totpSecret: _t, totpLastStep: _s, ...summary } = user;
      return summary;
    },
    async addClient(c) {
      if (await findClient(db, c.clientId)) throw new AuthInputError(`client ${c.clientId} exists`);
      try {
        return await insertClient(db, c);
      } catch (err) {
        throw new AuthInputError((err as Error).message);
      }
    },
    listUsers: () => listUsers(db),
    listClients: () => listClients(db),
    async setUserDisabled(username, disabled, inTransaction = ownTransaction) {
      const userId = await inTransaction(async (tx) => {
        const user = await requireUser(username, tx);
        await setUserDisabled(tx, username, disabled);
        if (disabled) await endUserSessions(tx, user.id);
        return user.id;
      });
      accountChanged({ kind: 'user', id: userId }, disabled);
    },
    async setClientDisabled(clientId, disabled, inTransaction = ownTransaction) {
      await inTransaction(async (tx) => {
        if (!(await setClientDisabled(tx, clientId, disabled))) throw new AuthInputError(`no client ${clientId}`);
        return clientId;
      });
      accountChanged({ kind: 'client', id: clientId }, disabled);
    },
    sessionEnded: (sessionId) => revoked({ kind: 'session', id: sessionId }),
    accessTokenRevoked: (tokenId) => revoked({ kind: 'token', id: tokenId }),
    async setPassword(username, password) {
      try {
        checkPasswordPolicy(password);
      } catch (err) {
        throw new AuthInputError((err as Error).message);
      }
      if (!(await setPasswordHash(db, username, await hashPassword(password, opts.argon2Cost)))) throw new AuthInputError(`no user named ${username}`);
    },
    async enrolTotp(username) {
      const user = await requireUser(username);
      const { secret, uri } = newTotpSecret(user.username);
      await setTotpSecret(db, user.id, fieldCrypto.encrypt(secret), true);
      return uri;
    },
    async mintTokenForUser(username, o) {
      const user = await requireUser(username);
      if (user.disabled) throw new AuthInputError(`user ${username} is disabled`);
      const client = await findClient(db, 'katahdin-web');
      if (!client) throw new AuthInputError('built-in clients are not registered (run migrations and start once)');
      return tokens.issue(service.subjectForUser(user, client, o?.scopes));
    },
    async mintTokenForClient(clientId, o) {
      const client = await findClient(db, clientId);
      if (!client || client.disabled) throw new AuthInputError(`no active client ${clientId}`);
      return tokens.issue(service.subjectForClient(client, o?.scopes));
    },
    async clientContext(clientId) {
      const client = await findClient(db, clientId);
      if (!client || client.disabled) return undefined;
      const subject = service.subjectForClient(client, undefined);
      return { clientId: subject.clientId, displayName: subject.displayName, role: 'system', organizationId: subject.organizationId, scopes: subject.scopes, purposeOfUse: subject.purposeOfUse };
    },
    ensureBuiltinClients: () => ensureBuiltinClients(db, config),
    subjectForUser,
    subjectForClient,
    fhirUser: (user) => fhirUserOf(user, config.publicUrl),
    hashPassword: (password) => hashPassword(password, opts.argon2Cost),
    rotateSecrets: () => rotateKeys(fieldCrypto, async (reencrypt) => {
      const rows = await run<{ id: string; totp_secret: string }>(db, sql`select id, totp_secret from users where totp_secret is not null`);
      for (const r of rows) {
        const next = reencrypt(r.totp_secret);
        if (next) await run(db, sql`update users set totp_secret = ${next.ciphertext} where id = ${r.id}`);
      }
    }),
  };
  return service;
}
