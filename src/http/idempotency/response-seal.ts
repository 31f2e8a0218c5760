import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Stored responses are sealed with a key derived from the caller's API key, which the gateway keeps only
 * as a hash. A stored body can hold what a mutation returns once (a new API key, a webhook signing
 * secret); sealed this way, a database dump or backup reveals none of it, while the caller who sent the
 * request, and nobody else, can have it replayed. It needs no key configuration and survives restarts.
 */

const VERSION = 'v1';
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** What a sealed body is bound to: the associated data names the organization, the key and the request. */
export interface SealBinding {
  organizationId: string;
  key: string;
  fingerprint: string;
}

function deriveKey(credential: string, salt: Buffer, binding: SealBinding): Buffer {
  const info = `igw idempotency response ${VERSION}\0${binding.organizationId}\0${binding.key}`;
  return Buffer.from(hkdfSync('sha256', credential, salt, info, 32));
}

function associatedData(binding: SealBinding): Buffer {
  return Buffer.from(`${binding.organizationId}\0${binding.key}\0${binding.fingerprint}`);
}

/** Encrypts a response body (AES-256-GCM) under `credential`, the full API key of the request. */
export function sealResponseBody(body: string, credential: string, binding: SealBinding): string {
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(credential, salt, binding), iv);
  cipher.setAAD(associatedData(binding));
  const ciphertext = Buffer.concat([cipher.update(body, 'utf8'), cipher.final()]);
  return [VERSION, salt, iv, ciphertext, cipher.getAuthTag()]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

/** The body, or null when `credential` is not the one that sealed it or the value was tampered with. */
export function openResponseBody(sealed: string, credential: string, binding: SealBinding): string | null {
  const [version, salt, iv, ciphertext, tag, ...rest] = sealed.split('.');
  if (version !== VERSION || salt === undefined || iv === undefined || ciphertext === undefined || tag === undefined || rest.length > 0)
    return null;
  try {
    const tagBytes = Buffer.from(tag, 'base64url');
    if (tagBytes.length !== TAG_BYTES) return null;
    const decipher = createDecipheriv(
      'aes-256-gcm',
      deriveKey(credential, Buffer.from(salt, 'base64url'), binding),
      Buffer.from(iv, 'base64url'),
    );
    decipher.setAAD(associatedData(binding));
    decipher.setAuthTag(tagBytes);
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
