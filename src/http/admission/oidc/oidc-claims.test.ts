import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config.js';
import { claimAt, organizationClaim, roleClaim } from './oidc-claims.js';
import { ASYMMETRIC_ALGORITHMS } from './oidc-options.js';
import { userIdOf } from './oidc-verifier.js';

describe('claims', () => {
  it('are read by exact name first (namespaced URLs have dots), else along a dotted path', () => {
    const payload = { 'https://example.com/org': 'acme', realm_access: { roles: ['editor'] }, o: { slg: 'globex' } };
    expect(claimAt(payload, 'https://example.com/org')).toBe('acme');
    expect(claimAt(payload, 'realm_access.roles')).toEqual(['editor']);
    expect(claimAt(payload, 'o.slg')).toBe('globex');
    expect(claimAt(payload, 'o.missing')).toBeUndefined();
    expect(claimAt(payload, 'toString')).toBeUndefined();
    expect(claimAt(payload, 'o.constructor')).toBeUndefined();
  });

  it('name one organization by a single printable string', () => {
    expect(organizationClaim({ org: 'acme' }, 'org')).toBe('acme');
    for (const org of [undefined, ['acme'], 7, '', 'two words', 'x'.repeat(201)]) {
      expect(() => organizationClaim({ org }, 'org'), JSON.stringify(org)).toThrow();
    }
  });

  it('grant VIEWER when no role claim is configured or present, the named role, and refuse what names none', () => {
    expect(roleClaim({ role: 'ADMIN' }, undefined)).toBe('VIEWER');
    expect(roleClaim({}, 'role')).toBe('VIEWER');
    expect(roleClaim({ role: null }, 'role')).toBe('VIEWER');
    expect(roleClaim({ role: 'editor' }, 'role')).toBe('EDITOR');
    expect(roleClaim({ role: ' Admin ' }, 'role')).toBe('ADMIN');
    expect(roleClaim({ groups: ['everyone', 'viewer', 'EDITOR'] }, 'groups')).toBe('EDITOR');
    for (const role of ['superuser', 'authenticated', '', 3, { role: 'EDITOR' }, [], ['staff']]) {
      expect(() => roleClaim({ role }, 'role'), JSON.stringify(role)).toThrow();
    }
  });

  it("derive a user's id from the issuer and subject alone: a UUID of version 8", () => {
    const id = userIdOf('https://login.example.com', 'user-1');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(userIdOf('https://login.example.com', 'user-1')).toBe(id);
    expect(userIdOf('https://login.example.com', 'user-2')).not.toBe(id);
    expect(userIdOf('https://login.example.org', 'user-1')).not.toBe(id);
  });
});

describe('configuration', () => {
  const issuer = { AUTH_OIDC_ISSUER: 'https://login.example.com/', AUTH_OIDC_AUDIENCE: 'gateway' };

  it('is off without an issuer, and on with an issuer and an audience, with documented defaults', () => {
    expect(loadConfig({}).oidc).toBeNull();
    expect(loadConfig(issuer).oidc).toEqual({
      issuer: 'https://login.example.com/',
      audience: ['gateway'],
      organizationClaim: 'org',
      roleClaim: undefined,
      clockToleranceSeconds: 30,
      algorithms: ASYMMETRIC_ALGORITHMS,
    });
    const custom = loadConfig({
      ...issuer,
      AUTH_OIDC_AUDIENCE: 'gateway, api://gateway',
      AUTH_OIDC_ORG_CLAIM: 'https://example.com/org',
      AUTH_OIDC_ROLE_CLAIM: 'realm_access.roles',
      AUTH_OIDC_CLOCK_TOLERANCE_SECONDS: '5',
      AUTH_OIDC_ALGORITHMS: 'ES256,EdDSA',
    }).oidc;
    expect(custom).toMatchObject({ audience: ['gateway', 'api://gateway'], clockToleranceSeconds: 5, algorithms: ['ES256', 'EdDSA'] });
  });

  it('refuses an issuer without audience, symmetric or no algorithms, and plain http in production', () => {
    expect(() => loadConfig({ AUTH_OIDC_ISSUER: 'https://login.example.com' })).toThrow(/AUTH_OIDC_AUDIENCE/);
    expect(() => loadConfig({ AUTH_OIDC_AUDIENCE: 'gateway' })).toThrow(/AUTH_OIDC_AUDIENCE/);
    for (const algorithms of ['HS256', 'none', 'RS256,HS512']) {
      expect(() => loadConfig({ ...issuer, AUTH_OIDC_ALGORITHMS: algorithms }), algorithms).toThrow(/AUTH_OIDC_ALGORITHMS/);
    }
    expect(() => loadConfig({ ...issuer, AUTH_OIDC_CLOCK_TOLERANCE_SECONDS: '3600' })).toThrow(/CLOCK_TOLERANCE/);
    const production = { NODE_ENV: 'production', ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') };
    expect(() => loadConfig({ ...production, ...issuer, AUTH_OIDC_ISSUER: 'http://login.example.com' })).toThrow(/https/);
    expect(loadConfig({ ...production, ...issuer }).oidc?.issuer).toBe('https://login.example.com/');
  });

  it('reads CORS_ALLOWED_ORIGINS as exact origins, refusing wildcards, paths and anything else', () => {
    expect(loadConfig({}).corsAllowedOrigins).toEqual([]);
    expect(
      loadConfig({ CORS_ALLOWED_ORIGINS: 'https://app.example.com, HTTPS://Admin.Example.com:443/, http://localhost:5173' })
        .corsAllowedOrigins,
    ).toEqual(['https://app.example.com', 'https://admin.example.com', 'http://localhost:5173']);
    for (const value of ['*', 'https://*.example.com', 'https://app.example.com/path', 'null', 'app.example.com', 'ftp://x.example.com']) {
      expect(() => loadConfig({ CORS_ALLOWED_ORIGINS: value }), value).toThrow(/CORS_ALLOWED_ORIGINS/);
    }
  });
});
