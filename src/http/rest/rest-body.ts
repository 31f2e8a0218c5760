import type { MiddlewareHandler } from 'hono';
import { problem } from './problem.js';
import type { RestEnv } from './rest-env.js';

/**
 * Refuses a body over `maxBytes` with 413 before any of it is parsed: by its declared length when it
 * has one, else by counting what arrives (a chunked body), which is then kept for the JSON validator
 * instead of being read a second time.
 */
export function bodyWithin(maxBytes: number): MiddlewareHandler<RestEnv> {
  const tooLarge = (requestId: string) => problem(413, 'PAYLOAD_TOO_LARGE', `The body exceeds ${maxBytes} bytes.`, { requestId });
  return async (c, next) => {
    const { requestId } = c.get('state');
    const declared = c.req.header('content-length');
    if (declared !== undefined) return Number(declared) > maxBytes ? tooLarge(requestId) : next();
    const stream = c.req.raw.body;
    if (!stream) return next();
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        return tooLarge(requestId);
      }
      chunks.push(value);
    }
    // Hono's request reads any body type from the one it has cached.
    const body = Buffer.concat(chunks);
    (c.req.bodyCache as Record<string, Promise<ArrayBuffer>>).arrayBuffer = Promise.resolve(
      body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
    );
    return next();
  };
}
