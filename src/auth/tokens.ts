import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { AccessContext, PurposeOfUse, Role } from '../access/context.ts';
import type { SigningKeyRing } from './keys.ts';

/** Everything an access token says about its bearer. */
export interface TokenSubject {
  /** User id for people, client id for systems. */
  sub: string;
  userId?: string;
  username?: string;
  displayName: string;
  role: Role;
  organizationId?: string;
  practitionerId?: string;
  personId?: string;
  clientId: string;
  scopes: string[];
  purposeOfUse: PurposeOfUse;
  sessionId?: string;
}

/** The AccessContext plus what the token also carries (for audit and logout). */
export interface VerifiedContext extends AccessContext {
  username?: string;
  practitionerId?: string;
  tokenId: string;
  sessionId?: string;
  expiresAt: Date;
}

export interface IssuedAccessToken {
  accessToken: string;
  expiresIn: number;
  jti: string;
}

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

const ROLES: readonly Role[] = ['clinician', 'clinical-staff', 'registrar', 'privacy-officer', 'admin', 'system', 'patient'];
const PURPOSES: readonly PurposeOfUse[] = ['TREAT', 'ETREAT', 'HOPERAT', 'PATRQT', 'HSYSADMIN'];
const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface TokenIssuerOptions {
  keys: SigningKeyRing;
  /** `iss` of our tokens: the server's public URL. */
  issuer: string;
  /** `aud` of our access tokens: the resource server (same public URL). */
  audience: string;
  accessTokenSeconds: number;
}

export interface TokenIssuer {
  issue(subject: TokenSubject): Promise<IssuedAccessToken>;
  /** An OpenID id_token for the SMART `openid fhirUser` scopes. */
  idToken(subject: TokenSubject, fhirUser: string | undefined): Promise<string>;
  verify(token: string): Promise<VerifiedContext>;
}

function optional(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function toContext(p: JWTPayload): VerifiedContext {
  const role = p.role as Role;
  const pou = p.pou as PurposeOfUse;
  if (!ROLES.includes(role) || !PURPOSES.includes(pou) || typeof p.scope !== 'string' || typeof p.name !== 'string') {
    throw new InvalidTokenError('token claims are incomplete');
  }
  return {
    userId: role === 'system' ? undefined : p.sub,
    clientId: optional(p.client_id),
    displayName: p.name,
    role,
    organizationId: optional(p.org),
    scopes: p.scope.split(' ').filter(Boolean),
    purposeOfUse: pou,
    personId: optional(p.person),
    username: optional(p.preferred_username),
    practitionerId: optional(p.practitioner),
    tokenId: p.jti!,
    sessionId: optional(p.sid),
    expiresAt: new Date(p.exp! * 1000),
  };
}

export function createTokenIssuer(opts: TokenIssuerOptions): TokenIssuer {
  const { current } = opts.keys;
  const verifyKeys = createLocalJWKSet({ keys: opts.keys.all.map((k) => k.publicJwk) });
  const algorithms = [...new Set(opts.keys.all.map((k) => k.alg))];
  return {
    async issue(s) {
      const jti = randomUUID();
      const claims: JWTPayload = {
        client_id: s.clientId,
        scope: s.scopes.join(' '),
        role: s.role,
        name: s.displayName,
        pou: s.purposeOfUse,
        ...(s.username ? { preferred_username: s.username } : {}),
        ...(s.organizationId ? { org: s.organizationId } : {}),
        ...(s.practitionerId ? { practitioner: s.practitionerId } : {}),
        ...(s.personId ? { person: s.personId } : {}),
        ...(s.sessionId ? { sid: s.sessionId } : {}),
      };
      const accessToken = await new SignJWT(claims)
        .setProtectedHeader({ alg: current.alg, kid: current.kid, typ: ACCESS_TOKEN_TYPE })
        .setIssuer(opts.issuer)
        .setAudience(opts.audience)
        .setSubject(s.sub)
        .setJti(jti)
        .setIssuedAt()
        .setExpirationTime(`${opts.accessTokenSeconds}s`)
        .sign(current.privateKey);
      return { accessToken, expiresIn: opts.accessTokenSeconds, jti };
    },
    async idToken(s, fhirUser) {
      return new SignJWT({ ...(fhirUser ? { fhirUser } : {}), name: s.displayName, ...(s.username ? { preferred_username: s.username } : {}) })
        .setProtectedHeader({ alg: current.alg, kid: current.kid, typ: 'JWT' })
        .setIssuer(opts.issuer)
        .setAudience(s.clientId)
        .setSubject(s.sub)
        .setIssuedAt()
        .setExpirationTime(`${opts.accessTokenSeconds}s`)
        .sign(current.privateKey);
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, verifyKeys, {
          issuer: opts.issuer,
          audience: opts.audience,
          algorithms,
          typ: ACCESS_TOKEN_TYPE,
          requiredClaims: ['exp', 'iat', 'jti', 'sub'],
        });
        return toContext(payload);
      } catch (err) {
        if (err instanceof InvalidTokenError) throw err;
        // jose's messages name claims, never values; still, keep ours generic.
        throw new InvalidTokenError('access token is invalid or expired');
      }
    },
  };
}

/** Opaque, high-entropy secrets (codes, refresh tokens); only their SHA-256 is stored. */
export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
