import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig (privacy-rules §1, §5, §7)', () => {
  it('defaults to an 18-month care relationship window, 30-day attestations and 4-hour break-the-glass', () => {
    expect(loadConfig({})).toMatchObject({ careRelationshipMonths: 18, attestationDays: 30, breakGlassHours: 4 });
    expect(loadConfig({ CARE_RELATIONSHIP_MONTHS: '24', ATTESTATION_DAYS: '10', BREAK_GLASS_HOURS: '2' }))
      .toMatchObject({ careRelationshipMonths: 24, attestationDays: 10, breakGlassHours: 2 });
  });

  it('in production, refuses to start without TLS unless told a TLS terminator sits in front', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production', TLS_CERT_FILE: '/etc/katahdin/cert.pem' })).toThrow(/TLS_CERT_FILE and TLS_KEY_FILE/);
    expect(() => loadConfig({ NODE_ENV: 'production', TLS_TERMINATED_UPSTREAM: 'no' })).toThrow(ConfigError);
    expect(loadConfig({ NODE_ENV: 'production', TLS_TERMINATED_UPSTREAM: 'true' })).toMatchObject({ production: true, tls: undefined, tlsTerminatedUpstream: true });
    const tls = loadConfig({ NODE_ENV: 'production', TLS_CERT_FILE: '/etc/katahdin/cert.pem', TLS_KEY_FILE: '/etc/katahdin/key.pem', PORT: '8443' });
    expect(tls).toMatchObject({ production: true, tls: { certFile: '/etc/katahdin/cert.pem', keyFile: '/etc/katahdin/key.pem' } });
    expect(tls.publicUrl).toBe('https://127.0.0.1:8443');
    expect(loadConfig({}).production).toBe(false);
  });

  it('bounds the PostgreSQL pool by the audit chains a schema has', () => {
    expect(loadConfig({}).databasePoolSize).toBe(10);
    expect(loadConfig({ DATABASE_POOL_SIZE: '40' }).databasePoolSize).toBe(40);
    expect(() => loadConfig({ DATABASE_POOL_SIZE: '0' })).toThrow(/between 1 and 1024/);
    expect(() => loadConfig({ DATABASE_POOL_SIZE: '2000' })).toThrow(/between 1 and 1024/);
    expect(() => loadConfig({ DATABASE_POOL_SIZE: 'many' })).toThrow(ConfigError);
  });

  it('reads which facilities each MLLP client certificate may send for, and whether unknown facilities register', () => {
    const tls = { TLS_CERT_FILE: '/etc/katahdin/cert.pem', TLS_KEY_FILE: '/etc/katahdin/key.pem', TLS_CA_FILE: '/etc/katahdin/senders.pem' };
    expect(loadConfig({})).toMatchObject({ mllpCertFacilities: new Map(), mllpRegisterUnknownFacilities: true });
    expect(loadConfig({ ...tls, MLLP_CERT_FACILITIES: ' cn-a = FAC1, FAC2 ;cn-b=FAC3;', MLLP_REGISTER_UNKNOWN_FACILITIES: 'false' })).toMatchObject({
      mllpCertFacilities: new Map([['cn-a', ['FAC1', 'FAC2']], ['cn-b', ['FAC3']]]),
      mllpRegisterUnknownFacilities: false,
    });
    for (const bad of ['cn-a', '=FAC1', 'cn-a=', 'cn-a=FAC1;cn-a=FAC2']) expect(() => loadConfig({ ...tls, MLLP_CERT_FACILITIES: bad })).toThrow(/MLLP_CERT_FACILITIES/);
    // Without a CA no certificate is asked for: the list would bind nothing.
    expect(() => loadConfig({ ...tls, TLS_CA_FILE: '', MLLP_CERT_FACILITIES: 'cn-a=FAC1' })).toThrow(/TLS_CA_FILE/);
    expect(() => loadConfig({ MLLP_REGISTER_UNKNOWN_FACILITIES: 'sometimes' })).toThrow(/MLLP_REGISTER_UNKNOWN_FACILITIES/);
  });

  it('trusts no proxy by default; TRUST_PROXY lists proxy addresses and CIDRs, never "everyone" or a hop count', () => {
    expect(loadConfig({}).trustProxy).toEqual([]);
    expect(loadConfig({ TRUST_PROXY: '' }).trustProxy).toEqual([]);
    expect(loadConfig({ TRUST_PROXY: ' 10.0.0.0/8, 127.0.0.1 ,fd00::/8,::1,uniquelocal' }).trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1', 'fd00::/8', '::1', 'uniquelocal']);
    for (const bad of ['true', '*', '1', '2', '0.0.0.0/0', '::/0', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/8/8', '10.0.0', 'proxy.example.org', 'loopback/8', '10.0.0.0/x']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY must list/);
    }
    expect(() => loadConfig({ TRUST_PROXY: 'true' })).toThrow(/any client/);
  });

  it('reads the per-address sign-in, token and portal sign-up limits, refusing anything but a positive whole number', () => {
    expect(loadConfig({})).toMatchObject({ authLoginRateLimit: 20, authTokenRateLimit: 60, portalSignupRateLimit: 10 });
    expect(loadConfig({ AUTH_LOGIN_RATE_LIMIT: '200', AUTH_TOKEN_RATE_LIMIT: '600', PORTAL_SIGNUP_RATE_LIMIT: '30' }))
      .toMatchObject({ authLoginRateLimit: 200, authTokenRateLimit: 600, portalSignupRateLimit: 30 });
    for (const name of ['AUTH_LOGIN_RATE_LIMIT', 'AUTH_TOKEN_RATE_LIMIT', 'PORTAL_SIGNUP_RATE_LIMIT']) {
      for (const bad of ['0', '-5', '2.5', 'lots', '1e3', '0x10', ' ']) {
        expect(() => loadConfig({ [name]: bad }), `${name}=${bad}`).toThrow(new RegExp(`${name} must be a positive whole number`));
      }
    }
  });

  it('reads the working hours and time zone of the unusual-access report, refusing nonsense', () => {
    expect(loadConfig({})).toMatchObject({ auditWorkingHours: { start: 7, end: 19 }, auditTimeZone: 'America/New_York' });
    expect(loadConfig({ AUDIT_WORKING_HOURS: '0-24', AUDIT_TIME_ZONE: 'Europe/Paris' })).toMatchObject({ auditWorkingHours: { start: 0, end: 24 }, auditTimeZone: 'Europe/Paris' });
    for (const bad of ['19-7', '8-25', '8', 'nine-five', '7-7']) expect(() => loadConfig({ AUDIT_WORKING_HOURS: bad })).toThrow(/AUDIT_WORKING_HOURS/);
    expect(() => loadConfig({ AUDIT_TIME_ZONE: 'Maine/Katahdin' })).toThrow(/AUDIT_TIME_ZONE/);
  });
});
