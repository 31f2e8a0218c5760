/**
 * Names of members that would hold a secret. Event data is published to webhooks, subscribers and the
 * audit log, so such a member is refused outright rather than masked: the code that tried is wrong.
 */
const SECRET_NAME = /secret|password|passphrase|token|credential|authorization|ciphertext|verifier|cookie|private|api_?key$/i;

/** A value that holds a gateway API key. */
const SECRET_VALUE = /\bigw_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}/;

export class UnsafeEventDataError extends Error {
  override name = 'UnsafeEventDataError';
}

/**
 * Throws when `data` (at any depth) has a member named like a secret or a string that looks like one;
 * the message names the path only, never the value.
 */
export function assertSafeEventData(data: unknown, path = 'data'): void {
  if (typeof data === 'string') {
    if (SECRET_VALUE.test(data)) throw new UnsafeEventDataError(`Event ${path} looks like a secret.`);
    return;
  }
  if (Array.isArray(data)) {
    for (const [index, item] of data.entries()) assertSafeEventData(item, `${path}[${index}]`);
    return;
  }
  if (data === null || typeof data !== 'object') return;
  for (const [name, value] of Object.entries(data)) {
    if (SECRET_NAME.test(name)) throw new UnsafeEventDataError(`Event ${path}.${name} is named like a secret.`);
    assertSafeEventData(value, `${path}.${name}`);
  }
}
