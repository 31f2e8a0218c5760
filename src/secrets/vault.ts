import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { SecretBinding, Vault } from '../services.js';
import type { KeyRing } from './key-ring.js';

const FORMAT = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * A secret could not be sealed or opened. Messages name key ids and the reason class only, never key
 * material or plaintext, and no underlying crypto error is attached as a cause.
 */
export class SecretVaultError extends Error {
  override name = 'SecretVaultError';
}

/**
 * The associated data: authenticated but not encrypted. A ciphertext copied to another organization,
 * integration or secret version, or whose stored origins were altered (or removed), fails authentication
 * instead of opening there. Secrets sealed without origins keep the shorter form, so that they still open.
 */
function associatedData(binding: SecretBinding): Buffer {
  const { organizationId, integrationId, version, origins } = binding;
  if (!organizationId || !integrationId || !Number.isSafeInteger(version) || version < 0) {
    throw new SecretVaultError('A secret binding needs an organization id, an integration id and a non-negative integer version.');
  }
  const fields: (string | number)[] = ['igw.secret', FORMAT, organizationId, integrationId, version];
  if (origins != null) fields.push(origins);
  return Buffer.from(JSON.stringify(fields), 'utf8');
}

/**
 * AES-256-GCM over JSON values. A ciphertext is `v1.` + base64url(IV | tag | data) with a fresh
 * random 96-bit IV per seal; its key id is stored beside it (column `secret_key_id`).
 */
export class SecretVault implements Vault {
  constructor(private readonly keys: KeyRing) {}

  /** Id of the key that seals now; rows under any other id are what rotation re-encrypts. */
  get currentKeyId(): string {
    return this.keys.current.id;
  }

  /** Ids of every key that can open (current first). */
  get keyIds(): string[] {
    return this.keys.ids;
  }

  derive(purpose: string): string[] {
    // HKDF with the purpose as its info: a derived secret reveals nothing of the key, nor of another purpose's.
    return this.keys.ids.map((id) =>
      Buffer.from(hkdfSync('sha256', this.keys.get(id) as Buffer, Buffer.alloc(0), `igw.derived\0${FORMAT}\0${purpose}`, 32)).toString(
        'base64url',
      ),
    );
  }

  seal(value: unknown, binding: SecretBinding): { ciphertext: string; keyId: string } {
    const json = JSON.stringify(value);
    if (json === undefined) throw new SecretVaultError('Only JSON-serialisable values can be sealed.');
    const { id, key } = this.keys.current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES }).setAAD(associatedData(binding));
    const data = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
    const ciphertext = `${FORMAT}.${Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64url')}`;
    return { ciphertext, keyId: id };
  }

  open<T>(ciphertext: string, keyId: string, binding: SecretBinding): T {
    const key = this.keys.get(keyId);
    if (!key) {
      throw new SecretVaultError(
        `No configured encryption key has id ${keyId.slice(0, 16)}; add the key that sealed this secret to ENCRYPTION_KEYS_PREVIOUS.`,
      );
    }
    const aad = associatedData(binding);
    const raw = ciphertext.startsWith(`${FORMAT}.`) ? Buffer.from(ciphertext.slice(FORMAT.length + 1), 'base64url') : null;
    if (!raw || raw.length < IV_BYTES + TAG_BYTES) throw new SecretVaultError('The stored secret is malformed.');
    let plaintext: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES }).setAAD(aad);
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      plaintext = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      // GCM cannot tell tampering from a wrong binding or key, so neither does the message.
      throw new SecretVaultError(
        'The stored secret failed authentication: it was altered, or belongs to another integration or secret version.',
      );
    }
    try {
      return JSON.parse(plaintext) as T;
    } catch {
      throw new SecretVaultError('The stored secret is not valid JSON.');
    }
  }
}
