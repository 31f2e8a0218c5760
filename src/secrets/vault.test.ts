import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeKey, KeyRing, keyIdOf } from './key-ring.js';
import { SecretVault, SecretVaultError } from './vault.js';

const binding = { organizationId: 'org-1', integrationId: 'int-1', version: 3 };
const secret = { credential: { kind: 'API_TOKEN', token: 'ghp_supersecret_token_value' }, webhookSecret: 'whsec_abc' };

/** The error a call threw, asserting it is a SecretVaultError that leaks neither key nor plaintext. */
function vaultError(call: () => unknown, key: Buffer): SecretVaultError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(SecretVaultError);
    const text = `${(error as Error).message} ${(error as Error).stack} ${JSON.stringify(error)}`;
    for (const forbidden of [key.toString('base64'), key.toString('hex'), 'supersecret', 'whsec_abc'])
      expect(text).not.toContain(forbidden);
    expect((error as Error).cause).toBeUndefined();
    return error as SecretVaultError;
  }
  throw new Error('expected the call to throw');
}

describe('SecretVault', () => {
  const key = randomBytes(32);
  const vault = new SecretVault(new KeyRing(key));

  it('round-trips JSON values under the current key id, with a fresh IV each time', () => {
    const first = vault.seal(secret, binding);
    const second = vault.seal(secret, binding);
    expect(first.keyId).toBe(keyIdOf(key));
    expect(first.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(vault.currentKeyId).toBe(first.keyId);
    expect(first.ciphertext).not.toBe(second.ciphertext);
    expect(first.ciphertext).not.toContain('supersecret');
    expect(vault.open(first.ciphertext, first.keyId, binding)).toEqual(secret);
    expect(vault.open(vault.seal('plain string', binding).ciphertext, first.keyId, binding)).toBe('plain string');
    expect(vault.open(vault.seal(null, binding).ciphertext, first.keyId, binding)).toBeNull();
  });

  it('refuses a tampered ciphertext', () => {
    const { ciphertext, keyId } = vault.seal(secret, binding);
    const raw = Buffer.from(ciphertext.slice(3), 'base64url');
    for (const offset of [0, 12, 28, raw.length - 1]) {
      const altered = Buffer.from(raw);
      altered[offset] = (altered[offset] ?? 0) ^ 1;
      expect(vaultError(() => vault.open(`v1.${altered.toString('base64url')}`, keyId, binding), key).message).toMatch(
        /failed authentication/,
      );
    }
    vaultError(() => vault.open(`v1.${raw.subarray(0, 20).toString('base64url')}`, keyId, binding), key);
    vaultError(() => vault.open(ciphertext.replace(/^v1\./, 'v2.'), keyId, binding), key);
  });

  it('refuses a ciphertext moved to another organization, integration or version', () => {
    const { ciphertext, keyId } = vault.seal(secret, binding);
    for (const other of [
      { ...binding, organizationId: 'org-2' },
      { ...binding, integrationId: 'int-2' },
      { ...binding, version: 4 },
      { ...binding, version: 2 },
    ]) {
      expect(vaultError(() => vault.open(ciphertext, keyId, other), key).message).toMatch(/another integration or secret version/);
    }
  });

  it('binds a ciphertext to its stored origins: altered, removed or added origins do not open', () => {
    const origins = '{"api":"https://gitlab.example.com","token":"https://gitlab.example.com","revoke":null}';
    const bound = vault.seal(secret, { ...binding, origins });
    expect(vault.open(bound.ciphertext, bound.keyId, { ...binding, origins })).toEqual(secret);
    for (const other of [origins.replace('gitlab.example.com', 'gitlab.evil.example'), null, undefined]) {
      vaultError(() => vault.open(bound.ciphertext, bound.keyId, { ...binding, origins: other }), key);
    }
    // Sealed before origins were bound: opens without them, and not with any.
    const unbound = vault.seal(secret, binding);
    expect(vault.open(unbound.ciphertext, unbound.keyId, { ...binding, origins: null })).toEqual(secret);
    vaultError(() => vault.open(unbound.ciphertext, unbound.keyId, { ...binding, origins }), key);
  });

  it('refuses an unknown key id, naming the id but not a key', () => {
    const { ciphertext } = vault.seal(secret, binding);
    const otherId = keyIdOf(randomBytes(32));
    const error = vaultError(() => vault.open(ciphertext, otherId, binding), key);
    expect(error.message).toContain(otherId);
    expect(error.message).toContain('ENCRYPTION_KEYS_PREVIOUS');
  });

  it('opens with previous keys and seals with the current one', () => {
    const oldKey = randomBytes(32);
    const before = new SecretVault(new KeyRing(oldKey)).seal(secret, binding);
    const rotated = new SecretVault(new KeyRing(key, [oldKey]));
    expect(rotated.open(before.ciphertext, before.keyId, binding)).toEqual(secret);
    expect(rotated.seal(secret, binding).keyId).toBe(keyIdOf(key));
    expect(rotated.keyIds).toEqual([keyIdOf(key), keyIdOf(oldKey)]);
    // Without the old key configured, the old ciphertext no longer opens.
    vaultError(() => vault.open(before.ciphertext, before.keyId, binding), key);
  });

  it('refuses values that are not JSON and incomplete bindings', () => {
    vaultError(() => vault.seal(undefined, binding), key);
    vaultError(() => vault.seal(secret, { ...binding, organizationId: '' }), key);
    vaultError(() => vault.seal(secret, { ...binding, version: 1.5 }), key);
  });
});

describe('key decoding', () => {
  it('accepts base64 and base64url of exactly 32 bytes only', () => {
    const key = randomBytes(32);
    expect(decodeKey(key.toString('base64'))).toEqual(key);
    expect(decodeKey(key.toString('base64url'))).toEqual(key);
    expect(decodeKey(` ${key.toString('base64')}\n`)).toEqual(key);
    expect(decodeKey(randomBytes(16).toString('base64'))).toBeNull();
    expect(decodeKey(randomBytes(33).toString('base64'))).toBeNull();
    expect(decodeKey(`${key.toString('base64').slice(0, 20)}!!${key.toString('base64').slice(20)}`)).toBeNull();
    expect(decodeKey('')).toBeNull();
    expect(() => new KeyRing(randomBytes(16))).toThrow(RangeError);
  });
});

describe('derived secrets', () => {
  it('are stable per key and purpose, differ by purpose and key, the current key first, and reveal no key', () => {
    const current = randomBytes(32);
    const previous = randomBytes(32);
    const vault = new SecretVault(new KeyRing(current, [previous]));
    const [mine, former, ...rest] = vault.derive('answers of user 1');
    expect(rest).toEqual([]);
    expect(new SecretVault(new KeyRing(current)).derive('answers of user 1')).toEqual([mine]);
    // After a rotation, the former current key's secret is still derived, second.
    expect(new SecretVault(new KeyRing(previous, [current])).derive('answers of user 1')).toEqual([former, mine]);
    expect(vault.derive('answers of user 2')[0]).not.toBe(mine);
    expect(former).not.toBe(mine);
    for (const secret of [mine, former]) {
      expect(Buffer.from(secret as string, 'base64url')).toHaveLength(32);
      expect(secret).not.toContain(current.toString('base64url'));
    }
  });
});
