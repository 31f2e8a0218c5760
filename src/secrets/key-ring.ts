import { createHash } from 'node:crypto';

/** AES-256 keys are exactly 32 bytes. */
export const KEY_BYTES = 32;

/** One configured key and the id stored beside every ciphertext it sealed. */
export interface EncryptionKey {
  id: string;
  key: Buffer;
}

/**
 * A key's id: the first 16 hex digits of its SHA-256. Stable across restarts and processes, so a
 * ciphertext names the key that opens it, and a one-way hash reveals nothing usable about the key.
 */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** Decodes a base64 (or base64url) key; null unless it is exactly 32 bytes. */
export function decodeKey(encoded: string): Buffer | null {
  const text = encoded.trim();
  // Buffer.from(..., 'base64') silently skips junk characters, so the alphabet is checked first.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return null;
  const key = Buffer.from(text, 'base64');
  return key.length === KEY_BYTES ? key : null;
}

/** Whether a configuration value is a usable key, for validation that must not echo the value. */
export function isValidKeyEncoding(encoded: string): boolean {
  return decodeKey(encoded) !== null;
}

/** Splits `ENCRYPTION_KEYS_PREVIOUS`: comma-separated, blanks ignored. */
export function splitKeyList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

/** The current key, which seals, and older keys, which only open what they sealed before a rotation. */
export class KeyRing {
  readonly current: EncryptionKey;
  private readonly byId = new Map<string, Buffer>();

  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    for (const key of [current, ...previous]) {
      if (key.length !== KEY_BYTES) throw new RangeError(`encryption keys must be ${KEY_BYTES} bytes`);
      // Copies, so that a caller zeroing or reusing its buffer cannot change the ring.
      const id = keyIdOf(key);
      if (!this.byId.has(id)) this.byId.set(id, Buffer.from(key));
    }
    const id = keyIdOf(current);
    this.current = { id, key: this.byId.get(id) as Buffer };
  }

  /** The key with this id, or undefined when it is not configured (any more). */
  get(id: string): Buffer | undefined {
    return this.byId.get(id);
  }

  /** Ids of every key that can open, the current one first. */
  get ids(): string[] {
    return [...this.byId.keys()];
  }
}
