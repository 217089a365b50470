import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Config } from '../config.ts';
import { run, type Queryable } from '../store/database.ts';
import { sql } from '../store/sql.ts';

export interface Client {
  clientId: string;
  name: string;
  organizationId?: string;
  /** Ceiling of scopes this client may obtain. */
  scopes: string[];
  jwks?: JSONWebKeySet;
  redirectUris: string[];
  /** Public apps (browser) have no credential and must use PKCE; confidential ones authenticate with private_key_jwt. */
  public: boolean;
  disabled: boolean;
}

export interface NewClient {
  clientId: string;
  name: string;
  organizationId?: string;
  scopes: string[];
  jwks?: JSONWebKeySet;
  redirectUris?: string[];
  public?: boolean;
}

interface ClientRow {
  client_id: string;
  name: string;
  organization_id: string | null;
  scopes: string[];
  jwks: JSONWebKeySet | string | null;
  redirect_uris: string[];
  public: boolean;
  disabled: boolean;
}

function toClient(r: ClientRow): Client {
  return {
    clientId: r.client_id,
    name: r.name,
    organizationId: r.organization_id ?? undefined,
    scopes: r.scopes,
    jwks: typeof r.jwks === 'string' ? (JSON.parse(r.jwks) as JSONWebKeySet) : r.jwks ?? undefined,
    redirectUris: r.redirect_uris,
    public: r.public,
    disabled: r.disabled,
  };
}

export class ClientRegistrationError extends Error {}

function validate(c: NewClient): void {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(c.clientId)) throw new ClientRegistrationError('client id must be 1-100 of A-Z a-z 0-9 . _ -');
  if (c.public && !c.redirectUris?.length) throw new ClientRegistrationError('a public client needs at least one redirect URI');
  if (!c.public && !c.jwks?.keys?.length) throw new ClientRegistrationError('a confidential client needs a JWKS with at least one key');
  if (c.jwks?.keys.some((k) => 'd' in k)) throw new ClientRegistrationError('the JWKS must contain public keys only');
}

export async function insertClient(db: Queryable, c: NewClient): Promise<Client> {
  validate(c);
  const rows = await run<ClientRow>(db, sql`insert into oauth_clients
      (client_id, name, organization_id, scopes, jwks, redirect_uris, public)
    values (${c.clientId}, ${c.name}, ${c.organizationId ?? null}, ${c.scopes},
      ${c.jwks ? JSON.stringify(c.jwks) : null}::jsonb, ${c.redirectUris ?? []}, ${c.public ?? false})
    returning *`);
  return toClient(rows[0]);
}

export async function findClient(db: Queryable, clientId: string): Promise<Client | undefined> {
  const rows = await run<ClientRow>(db, sql`select * from oauth_clients where client_id = ${clientId}`);
  return rows[0] ? toClient(rows[0]) : undefined;
}

export async function listClients(db: Queryable): Promise<Client[]> {
  return (await run<ClientRow>(db, sql`select * from oauth_clients order by client_id`)).map(toClient);
}

export async function setClientDisabled(db: Queryable, clientId: string, disabled: boolean): Promise<boolean> {
  return (await run(db, sql`update oauth_clients set disabled = ${disabled} where client_id = ${clientId} returning client_id`)).length > 0;
}

export const WEB_CLIENT_ID = 'katahdin-web';

/** Registers the built-in browser app (public, PKCE, redirect `<publicUrl>/callback`) unless it exists. */
export async function ensureBuiltinClients(db: Queryable, config: Pick<Config, 'publicUrl'>): Promise<void> {
  const redirect = `${config.publicUrl}/callback`;
  await run(db, sql`insert into oauth_clients (client_id, name, scopes, redirect_uris, public)
    values (${WEB_CLIENT_ID}, ${'Katahdin web app'},
      ${['openid', 'fhirUser', 'profile', 'offline_access', 'online_access', 'launch/patient', 'user/*.cruds', 'patient/*.cruds']},
      ${[redirect]}, true)
    on conflict (client_id) do update set redirect_uris = excluded.redirect_uris`);
}

export class ClientAuthError extends Error {}

/** Longest lifetime we accept for a client assertion (SMART backend services: 5 minutes). */
const MAX_ASSERTION_SECONDS = 300;
const CLOCK_SKEW_SECONDS = 30;

/**
 * Verifies a `private_key_jwt` client assertion (RS384/ES384) against the client's registered JWKS: issuer and
 * subject are the client, audience is the token endpoint, expiry at most 5 minutes away, jti never seen before.
 */
export async function authenticateClient(db: Queryable, assertion: string, tokenUrl: string): Promise<Client> {
  let clientId: string | undefined;
  try {
    clientId = decodeJwt(assertion).iss;
  } catch {
    throw new ClientAuthError('client_assertion is not a JWT');
  }
  const client = clientId ? await findClient(db, clientId) : undefined;
  if (!client || client.disabled || client.public || !client.jwks) throw new ClientAuthError('unknown client');
  let payload;
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks), {
      algorithms: ['RS384', 'ES384'],
      audience: tokenUrl,
      issuer: client.clientId,
      subject: client.clientId,
      requiredClaims: ['exp', 'jti'],
      clockTolerance: CLOCK_SKEW_SECONDS,
    }));
  } catch {
    throw new ClientAuthError('client assertion failed verification');
  }
  const now = Math.floor(Date.now() / 1000);
  if (payload.exp! > now + MAX_ASSERTION_SECONDS + CLOCK_SKEW_SECONDS) throw new ClientAuthError('client assertion lives longer than 5 minutes');
  await run(db, sql`delete from client_assertion_jtis where expires_at < now()`);
  const fresh = await run(db, sql`insert into client_assertion_jtis (client_id, jti, expires_at)
    values (${client.clientId}, ${payload.jti}, to_timestamp(${payload.exp! + CLOCK_SKEW_SECONDS}))
    on conflict do nothing returning jti`);
  if (fresh.length === 0) throw new ClientAuthError('client assertion replayed');
  return client;
}
