import { isIP } from 'node:net';
import { resolve } from 'node:path';

/** Every setting Katahdin reads from the environment, typed, with its default. Documented in README.md. */
export interface Config {
  host: string;
  port: number;
  mllpPort: number;
  /** Base URL clients use to reach us (links in bundles, SMART metadata). */
  publicUrl: string;
  /** PUBLIC_URL was not set: `publicUrl` follows HOST and PORT (a development set-up), so it may change between starts. */
  publicUrlDerived?: boolean;
  dataDir: string;
  /** When set, PostgreSQL instead of embedded PGlite. */
  databaseUrl?: string;
  /** Connections this process opens to PostgreSQL; each appends to an audit chain of its own (at most 1,024 per schema). */
  databasePoolSize: number;
  demo: boolean;
  production: boolean;
  logLevel: string;
  tls?: { certFile: string; keyFile: string; caFile?: string };
  tlsTerminatedUpstream: boolean;
  /**
   * Addresses/CIDRs of the reverse proxies whose X-Forwarded-For is believed (Fastify `trustProxy`); empty = none, and
   * `request.ip` (rate limits, audit source IP) is the TCP peer.
   */
  trustProxy: string[];
  /** Sign-in form posts per client address per minute. */
  authLoginRateLimit: number;
  /** Token, revocation and junk logout requests per client address per minute (one budget). */
  authTokenRateLimit: number;
  /** Portal sign-up requests (start and verify) per client address per minute. */
  portalSignupRateLimit: number;
  /** 32-byte key (base64) for encrypting SSNs at rest; when absent a key file in dataDir/keys is used/created. */
  dataKey?: string;
  accessTokenSeconds: number;
  refreshTokenDays: number;
  sessionMinutes: number;
  loginMaxFailures: number;
  lockoutMinutes: number;
  careRelationshipMonths: number;
  attestationDays: number;
  breakGlassHours: number;
  consentBackdateGraceDays: number;
  auditRetentionYears: number;
  /** Working hours (local, `auditTimeZone`; start inclusive, end exclusive) for the unusual-access report's off-hours list. */
  auditWorkingHours: { start: number; end: number };
  /** IANA time zone of the working hours (Maine's by default). */
  auditTimeZone: string;
  /** How often the running server signs the last entry of every audit chain (0 = only by `katahdin audit checkpoint`). */
  auditCheckpointMinutes: number;
  /** Most resources in one bulk export file. */
  exportFileResources: number;
  /** How long a bulk export's status and files stay available after the kick-off. */
  exportExpiryHours: number;
  /** Most `_include`d and `_revinclude`d resources in one page of a search. */
  searchMaxIncludes: number;
  bodyLimitBytes: number;
  mllpMaxMessageBytes: number;
  mllpIdleTimeoutMs: number;
  /** Comma-separated addresses allowed to connect over MLLP without a client certificate (empty = any, demo only). */
  mllpAllowedAddresses: string[];
  /**
   * Client certificate CN → the facilities (MSH-4) it may send for over MLLP. A certificate not listed may send only
   * for the facility its CN or a DNS/URI subject alternative name names.
   */
  mllpCertFacilities: Map<string, string[]>;
  /** Whether a message over MLLP from a facility without an Organization registers one (else it is refused). */
  mllpRegisterUnknownFacilities: boolean;
  /** HL7 v2 processing ids (MSH-11) applied to the record; others are rejected (default P: training and debug messages stay out). */
  hl7ProcessingIds: string[];
  corsOrigins: string[];
}

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {}

function int(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes'].includes(raw)) return true;
  if (['0', 'false', 'no'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function list(env: Env, name: string): string[] {
  return (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function workingHours(env: Env): { start: number; end: number } {
  const raw = env.AUDIT_WORKING_HOURS || '7-19';
  const m = /^(\d{1,2})-(\d{1,2})$/.exec(raw);
  const [start, end] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(start >= 0 && end <= 24 && start < end)) throw new ConfigError(`AUDIT_WORKING_HOURS must be "start-end" in whole hours, 0 ≤ start < end ≤ 24, got "${raw}"`);
  return { start, end };
}

function timeZone(env: Env): string {
  const zone = env.AUDIT_TIME_ZONE || 'America/New_York';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new ConfigError(`AUDIT_TIME_ZONE must be an IANA time zone such as America/New_York, got "${zone}"`);
  }
  return zone;
}

/** `cn-a=FAC1,FAC2;cn-b=FAC3`: which facilities each client certificate may send for. */
function certFacilities(env: Env, caFile: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const entry of (env.MLLP_CERT_FACILITIES ?? '').split(';').map((e) => e.trim()).filter(Boolean)) {
    const at = entry.indexOf('=');
    const cn = at > 0 ? entry.slice(0, at).trim() : '';
    const facilities = entry.slice(at + 1).split(',').map((f) => f.trim()).filter(Boolean);
    if (!cn || !facilities.length) throw new ConfigError(`MLLP_CERT_FACILITIES must be "cn=FACILITY,FACILITY;cn=FACILITY", got "${entry}"`);
    if (out.has(cn)) throw new ConfigError(`MLLP_CERT_FACILITIES lists the certificate "${cn}" twice`);
    out.set(cn, facilities);
  }
  // Without a CA no client certificate is asked for, and the list would bind nothing: a plain peer sends as anyone.
  if (out.size && !caFile) throw new ConfigError('MLLP_CERT_FACILITIES needs client certificates: set TLS_CA_FILE (with TLS_CERT_FILE and TLS_KEY_FILE)');
  return out;
}

/** A limit that must allow at least one request: 0 would lock everyone out, and is never what is meant. */
function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1) throw new ConfigError(`${name} must be a positive whole number (requests per client address per minute), got "${raw}"`);
  return n;
}

/** proxy-addr's named ranges, which Fastify's trustProxy understands. */
const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * `TRUST_PROXY=10.0.0.0/8,127.0.0.1`: the proxies whose X-Forwarded-For is believed. Only addresses, CIDRs and
 * proxy-addr's named ranges: `true`, hop counts and /0 would let any client name its own address (rate limits and
 * the audit log's source IP would be whatever it says).
 */
function trustedProxies(env: Env): string[] {
  const raw = env.TRUST_PROXY ?? '';
  const entries = list(env, 'TRUST_PROXY');
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split('/');
    const kind = isIP(address);
    const bits = kind === 4 ? 32 : 128;
    const ok = extra === undefined && (
      prefix === undefined ? kind !== 0 || PROXY_RANGES.has(entry) : kind !== 0 && /^\d{1,3}$/.test(prefix) && Number(prefix) >= 1 && Number(prefix) <= bits);
    if (!ok) {
      throw new ConfigError(`TRUST_PROXY must list the reverse proxies' addresses or CIDRs (e.g. "10.0.0.0/8,127.0.0.1"; loopback, linklocal and uniquelocal also work); "${entry}" is not one${/^(true|\*|\d+)$/i.test(entry) || /\/0+$/.test(entry) ? ' (trusting every peer or a hop count would let any client choose the address that is rate-limited and audited)' : ''}. Got "${raw}"`);
    }
  }
  return entries;
}

/** Every connection holds one of the schema's 1,024 audit chains while it lives (0015_audit_session_chains.sql). */
function poolSize(env: Env): number {
  const n = int(env, 'DATABASE_POOL_SIZE', 10);
  if (n < 1 || n > 1024) throw new ConfigError(`DATABASE_POOL_SIZE must be between 1 and 1024 (each connection holds one of the schema's 1,024 audit chains), got "${env.DATABASE_POOL_SIZE}"`);
  return n;
}

export function loadConfig(env: Env = process.env): Config {
  const host = env.HOST || '127.0.0.1';
  const port = int(env, 'PORT', 8080);
  const tls = env.TLS_CERT_FILE && env.TLS_KEY_FILE
    ? { certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE, caFile: env.TLS_CA_FILE || undefined }
    : undefined;
  const production = env.NODE_ENV === 'production';
  const tlsTerminatedUpstream = bool(env, 'TLS_TERMINATED_UPSTREAM', false);
  if (production && !tls && !tlsTerminatedUpstream) {
    throw new ConfigError('NODE_ENV=production requires TLS_CERT_FILE and TLS_KEY_FILE, or TLS_TERMINATED_UPSTREAM=true');
  }
  return {
    host,
    port,
    mllpPort: int(env, 'MLLP_PORT', 2575),
    publicUrl: (env.PUBLIC_URL || `${tls ? 'https' : 'http'}://${host}:${port}`).replace(/\/$/, ''),
    publicUrlDerived: !env.PUBLIC_URL,
    dataDir: resolve(env.DATA_DIR || './data'),
    databaseUrl: env.DATABASE_URL || undefined,
    databasePoolSize: poolSize(env),
    demo: bool(env, 'DEMO', true),
    production,
    logLevel: env.LOG_LEVEL || 'info',
    tls,
    tlsTerminatedUpstream,
    trustProxy: trustedProxies(env),
    authLoginRateLimit: positiveInt(env, 'AUTH_LOGIN_RATE_LIMIT', 20),
    authTokenRateLimit: positiveInt(env, 'AUTH_TOKEN_RATE_LIMIT', 60),
    portalSignupRateLimit: positiveInt(env, 'PORTAL_SIGNUP_RATE_LIMIT', 10),
    dataKey: env.KATAHDIN_DATA_KEY || undefined,
    accessTokenSeconds: int(env, 'ACCESS_TOKEN_SECONDS', 300),
    refreshTokenDays: int(env, 'REFRESH_TOKEN_DAYS', 1),
    sessionMinutes: int(env, 'SESSION_MINUTES', 30),
    loginMaxFailures: int(env, 'LOGIN_MAX_FAILURES', 5),
    lockoutMinutes: int(env, 'LOCKOUT_MINUTES', 15),
    careRelationshipMonths: int(env, 'CARE_RELATIONSHIP_MONTHS', 18),
    attestationDays: int(env, 'ATTESTATION_DAYS', 30),
    breakGlassHours: int(env, 'BREAK_GLASS_HOURS', 4),
    consentBackdateGraceDays: int(env, 'CONSENT_BACKDATE_GRACE_DAYS', 7),
    auditRetentionYears: Math.max(6, int(env, 'AUDIT_RETENTION_YEARS', 6)),
    auditCheckpointMinutes: int(env, 'AUDIT_CHECKPOINT_MINUTES', 60),
    auditWorkingHours: workingHours(env),
    auditTimeZone: timeZone(env),
    exportFileResources: Math.max(1, int(env, 'EXPORT_FILE_RESOURCES', 10_000)),
    exportExpiryHours: Math.max(1, int(env, 'EXPORT_EXPIRY_HOURS', 24)),
    searchMaxIncludes: Math.max(1, int(env, 'SEARCH_MAX_INCLUDES', 1000)),
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 16 * 1024 * 1024),
    mllpMaxMessageBytes: int(env, 'MLLP_MAX_MESSAGE_BYTES', 4 * 1024 * 1024),
    mllpIdleTimeoutMs: int(env, 'MLLP_IDLE_TIMEOUT_MS', 120_000),
    mllpAllowedAddresses: list(env, 'MLLP_ALLOWED_ADDRESSES'),
    mllpCertFacilities: certFacilities(env, tls?.caFile),
    mllpRegisterUnknownFacilities: bool(env, 'MLLP_REGISTER_UNKNOWN_FACILITIES', true),
    hl7ProcessingIds: env.HL7_PROCESSING_IDS ? list(env, 'HL7_PROCESSING_IDS') : ['P'],
    corsOrigins: list(env, 'CORS_ORIGINS'),
  };
}
