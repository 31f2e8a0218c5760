import { OutboundError } from '../../outbound/index.js';
import { retryAfterMs } from '../../outbound/retry.js';
import type { WebhookServices } from '../../services.js';
import { signatureHeaders } from './webhook-secrets.js';

/** The most of a receiver's answer kept in the delivery log. */
export const RESPONSE_BODY_LIMIT = 4_096;

/** What one attempt observed. */
export interface SendOutcome {
  ok: boolean;
  httpStatus: number | null;
  latencyMs: number;
  error: string | null;
  responseBody: string | null;
  /** The receiver's Retry-After on 429 or 503, in milliseconds. */
  retryAfterMs: number | null;
}

/** Reads at most `limit` bytes of a body and drops the rest. */
async function readCut(response: Response, limit: number): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/**
 * One attempt: a POST of the JSON body, signed with every secret given (Standard Webhooks), through
 * the outbound client and its policy, within the timeout, redirects answered as they are (a failure,
 * never followed). 2xx is delivered; anything else is a failure worth retrying.
 */
export async function sendWebhook(
  services: WebhookServices,
  url: string,
  message: { id: string; body: string },
  secrets: readonly string[],
): Promise<SendOutcome> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  let response: Response;
  try {
    response = await services.http(url, {
      method: 'POST',
      redirect: 'manual',
      timeoutMs: services.config.timeoutMs,
      idempotent: false,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'integrations-gateway-webhooks',
        ...signatureHeaders(secrets, message.id, new Date(), message.body),
      },
      body: message.body,
    });
  } catch (error) {
    const reason = error instanceof OutboundError ? error.message : 'The request failed before an answer arrived.';
    return { ok: false, httpStatus: null, latencyMs: latency(), error: reason, responseBody: null, retryAfterMs: null };
  }
  const latencyMs = latency();
  let responseBody: string | null = null;
  let readError: string | null = null;
  try {
    responseBody = await readCut(response, RESPONSE_BODY_LIMIT);
  } catch {
    readError = `The answer's body did not arrive within ${services.config.timeoutMs} ms.`;
  }
  const ok = response.status >= 200 && response.status < 300;
  const after = response.status === 429 || response.status === 503 ? retryAfterMs(response.headers.get('retry-after')) : null;
  let error: string | null = readError;
  if (!ok) {
    error =
      response.status >= 300 && response.status < 400
        ? `HTTP ${response.status}: redirects are not followed; give the final URL.`
        : `HTTP ${response.status}`;
  }
  return { ok, httpStatus: response.status, latencyMs, error, responseBody, retryAfterMs: after };
}
