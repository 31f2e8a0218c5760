import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { WebhookEndpointRow, WebhookEndpointsTable } from '../../db/database.js';
import type { Updateable } from 'kysely';
import { WEBHOOK_ENDPOINT_SECRET_LABEL } from '../../secrets/bindings.js';
import type { GatewayServices, SecretBinding } from '../../services.js';

/** Signing secrets as Standard Webhooks writes them: `whsec_` and base64 of 32 random bytes. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** What an endpoint row seals: its signing secret (null for an integration's, kept in its bundle) and the one it replaced. */
export interface EndpointSecrets {
  current: string | null;
  previous: string | null;
}

/** The vault binds an endpoint's secrets to its organization, its id, the secret version and the endpoints' label. */
function binding(row: Pick<WebhookEndpointRow, 'organization_id' | 'id'>, version: number): SecretBinding {
  return { organizationId: row.organization_id, integrationId: row.id, version, origins: WEBHOOK_ENDPOINT_SECRET_LABEL };
}

export function sealEndpointSecrets(
  services: Pick<GatewayServices, 'vault'>,
  row: Pick<WebhookEndpointRow, 'organization_id' | 'id' | 'secret_version'>,
  secrets: EndpointSecrets,
): Pick<Updateable<WebhookEndpointsTable>, 'secret_ciphertext' | 'secret_key_id' | 'secret_version'> {
  const version = row.secret_version + 1;
  const sealed = services.vault.seal(secrets, binding(row, version));
  return { secret_ciphertext: sealed.ciphertext, secret_key_id: sealed.keyId, secret_version: version };
}

export function openEndpointSecrets(
  services: Pick<GatewayServices, 'vault'>,
  row: Pick<WebhookEndpointRow, 'organization_id' | 'id' | 'secret_version' | 'secret_ciphertext' | 'secret_key_id'>,
): EndpointSecrets {
  if (row.secret_ciphertext === null || row.secret_key_id === null) return { current: null, previous: null };
  return services.vault.open<EndpointSecrets>(row.secret_ciphertext, row.secret_key_id, binding(row, row.secret_version));
}

const signers = new Map<string, Webhook>();

/**
 * The reference implementation's signer for a secret. Secrets issued before delivery existed were
 * base64url, which the reference libraries do not decode: their bytes sign as they are.
 */
function signerOf(secret: string): Webhook {
  let signer = signers.get(secret);
  if (!signer) {
    const body = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
    signer = /[-_]/.test(body) ? new Webhook(Buffer.from(body, 'base64url'), { format: 'raw' }) : new Webhook(secret);
    if (signers.size >= 10_000) signers.clear();
    signers.set(secret, signer);
  }
  return signer;
}

/** The Standard Webhooks headers of one attempt: every secret's `v1,<base64>` signature, space-separated. */
export function signatureHeaders(secrets: readonly string[], messageId: string, at: Date, body: string): Record<string, string> {
  const timestamp = new Date(Math.floor(at.getTime() / 1000) * 1000);
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(timestamp.getTime() / 1000),
    'webhook-signature': secrets.map((secret) => signerOf(secret).sign(messageId, timestamp, body)).join(' '),
  };
}
