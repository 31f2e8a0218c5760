import { type OutboundAnswer, OutboundError } from '../../outbound/index.js';
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

/**
 * One attempt: a POST of the JSON body, signed with every secret given (Standard Webhooks), through
 * the outbound client's `send` and its policy, within the timeout (the 4 KB of the answer kept
 * included), redirects answered as they are (a failure, never followed). 2xx is delivered; anything
 * else is a failure worth retrying.
 */
export async function sendWebhook(
  services: WebhookServices,
  url: string,
  message: { id: string; body: string },
  secrets: readonly string[],
): Promise<SendOutcome> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  let answer: OutboundAnswer;
  try {
    answer = await services.http.send(url, {
      method: 'POST',
      timeoutMs: services.config.timeoutMs,
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
    responseBody = await answer.text(RESPONSE_BODY_LIMIT);
  } catch {
    readError = `The answer's body did not arrive within ${services.config.timeoutMs} ms.`;
  }
  const status = answer.status;
  const ok = status >= 200 && status < 300;
  const after = status === 429 || status === 503 ? retryAfterMs(answer.header('retry-after')) : null;
  let error: string | null = readError;
  if (!ok) {
    error = status >= 300 && status < 400 ? `HTTP ${status}: redirects are not followed; give the final URL.` : `HTTP ${status}`;
  }
  return { ok, httpStatus: status, latencyMs, error, responseBody, retryAfterMs: after };
}
