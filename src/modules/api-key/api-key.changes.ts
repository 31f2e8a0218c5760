// Changes to API keys that this process commits, heard at once by whatever in this process remembers keys
// (the verified-key cache of each gateway, src/http/admission/verified-keys.ts). Other processes hear of
// them through the database's notification at commit (migration 2026-11-30T17.30.00); this is the same
// news without the round trip, so that a key revoked through this process is refused by it from the
// very next request.

type KeyChangeListener = (prefix: string) => void;

const listeners = new Set<KeyChangeListener>();

/** Calls `listener` with the visible prefix of every key this process changes from now on; returns the stop. */
export function onApiKeyChanged(listener: KeyChangeListener): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}

/** Tells this process's listeners that the key with this visible prefix changed (revoked). */
export function announceApiKeyChanged(prefix: string): void {
  for (const listener of listeners) listener(prefix);
}
