import { describe, expect, it } from 'vitest';
import { openResponseBody, sealResponseBody } from './response-seal.js';

describe('sealed response bodies', () => {
  const binding = { organizationId: 'org', key: 'k', fingerprint: 'f' };
  it('open only with the credential and binding that sealed them', () => {
    const body = '{"data":{"createApiKey":{"key":"igw_secret"}}}';
    const sealed = sealResponseBody(body, 'igw_credential', binding);
    expect(sealed).not.toContain('igw_secret');
    expect(openResponseBody(sealed, 'igw_credential', binding)).toBe(body);
    expect(openResponseBody(sealed, 'igw_other', binding)).toBeNull();
    expect(openResponseBody(sealed, 'igw_credential', { ...binding, fingerprint: 'g' })).toBeNull();
    const parts = sealed.split('.');
    parts[3] = `${parts[3]?.startsWith('A') ? 'B' : 'A'}${parts[3]?.slice(1)}`; // the ciphertext's first 6 bits
    expect(openResponseBody(parts.join('.'), 'igw_credential', binding)).toBeNull();
    expect(openResponseBody('garbage', 'igw_credential', binding)).toBeNull();
  });
});
