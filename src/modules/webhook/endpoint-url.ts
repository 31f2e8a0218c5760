import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ServiceError } from '../../errors.js';
import { OutboundBlockedError } from '../../outbound/index.js';
import type { WebhookServices } from '../../services.js';

/** How long saving an endpoint waits for its hostname to resolve before leaving the check to delivery time. */
const LOOKUP_DEADLINE_MS = 3_000;

async function resolveAll(services: WebhookServices, hostname: string): Promise<{ address: string }[] | 'not-found' | 'unknown'> {
  const resolve = services.lookup ?? ((name: string) => lookup(name, { all: true, verbatim: true }));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'unknown'>((done) => {
    timer = setTimeout(() => done('unknown'), LOOKUP_DEADLINE_MS);
  });
  try {
    return await Promise.race([resolve(hostname), deadline]);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return code === 'ENOTFOUND' || code === 'ENODATA' ? 'not-found' : 'unknown';
  } finally {
    clearTimeout(timer);
  }
}

function blocked(error: OutboundBlockedError, field: string[]): ServiceError {
  return new ServiceError(
    'OUTBOUND_BLOCKED',
    `${error.message} Webhooks are delivered under the outbound policy: https to public addresses (OUTBOUND_ALLOWLIST ` +
      'and OUTBOUND_ALLOW_PRIVATE widen it).',
    field,
  );
}

/**
 * Validates a receiver URL as delivery will treat it: an absolute http(s) URL without credentials, and
 * a destination the outbound policy allows (scheme, https in production, an address that is not
 * internal). A hostname is resolved now too: one that resolves only to internal addresses is refused,
 * one that does not exist is a mistake; the policy is applied again at every attempt.
 */
export async function cleanEndpointUrl(services: WebhookServices, value: string, field: string[]): Promise<string> {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ServiceError('VALIDATION', 'The URL must be an absolute http(s) URL, e.g. https://hooks.example.com/gateway.', field);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ServiceError('VALIDATION', 'The URL must use https (or http where the deployment allows it).', field);
  if (url.username || url.password || value.length > 2048)
    throw new ServiceError('VALIDATION', 'The URL must not carry credentials and must be at most 2048 characters.', field);
  url.hash = '';
  let plainHttp: boolean;
  try {
    plainHttp = services.policy.checkUrl(url).plainHttp;
  } catch (error) {
    if (error instanceof OutboundBlockedError) throw blocked(error, field);
    throw error;
  }
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(hostname) === 0 && !services.policy.hostAllowed(hostname)) {
    const addresses = await resolveAll(services, hostname);
    if (addresses === 'not-found') throw new ServiceError('VALIDATION', `The host ${hostname} does not resolve.`, field);
    if (addresses !== 'unknown') {
      try {
        services.policy.permittedAddresses(hostname, addresses, plainHttp);
      } catch (error) {
        if (error instanceof OutboundBlockedError) throw blocked(error, field);
        throw error;
      }
    }
  }
  return url.toString();
}
