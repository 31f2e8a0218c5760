// Options and defaults only, so that reading the configuration loads nothing of admission.

export interface VerifiedKeysOptions {
  /** How long a verified key is trusted without reading it again (API_KEY_CACHE_TTL_MS); 0 keeps none. */
  ttlMs: number;
  /** How many keys are kept at most (API_KEY_CACHE_SIZE); the longest kept go first. */
  size: number;
  /** How soon the uses of keys are written after they are due, in one statement for all of them. */
  useFlushMs?: number;
}

export const DEFAULT_VERIFIED_KEYS: VerifiedKeysOptions = { ttlMs: 5_000, size: 10_000 };
