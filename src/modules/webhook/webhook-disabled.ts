import { sql, type Transaction } from 'kysely';
import type { Database } from '../../db/database.js';
import { appendEvent } from '../events/event.repository.js';
import { failPendingDeliveries } from './webhook-endpoint.service.js';
import type { EndpointJoinedRow } from './webhook-endpoint.repository.js';

/**
 * Disables an endpoint that kept failing, in the transaction that recorded its last failure: its
 * enabled flag off (an integration's webhook on the integration), the time and the reason shown on it,
 * what it still had pending given up, and a `webhook_endpoint.disabled` event (actor SYSTEM) saying why.
 * The event names the receiver's origin only: a URL's path or query may hold a token.
 */
export async function recordEndpointDisabled(trx: Transaction<Database>, endpoint: EndpointJoinedRow, reason: string): Promise<void> {
  await trx
    .updateTable('webhook_endpoints')
    .set({
      enabled: endpoint.integration_id === null ? false : endpoint.enabled,
      disabled_at: sql<Date>`now()`,
      disabled_reason: reason,
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', endpoint.id)
    .execute();
  if (endpoint.integration_id !== null) {
    await trx
      .updateTable('integrations')
      .set({ webhook_enabled: false, row_version: sql<number>`row_version + 1`, updated_at: sql<Date>`now()` })
      .where('id', '=', endpoint.integration_id)
      .execute();
  }
  await failPendingDeliveries(trx, endpoint.id, 'The endpoint was disabled after failing for too long.');
  const url = endpoint.integration_id === null ? endpoint.url : endpoint.webhook_url;
  let origin = '';
  try {
    origin = url ? new URL(url).origin : '';
  } catch {
    // An unparsable stored URL is named by nothing.
  }
  await appendEvent(trx, {
    organizationId: endpoint.organization_id,
    type: 'webhook_endpoint.disabled',
    subject: { type: 'WebhookEndpoint', id: endpoint.id },
    integrationId: endpoint.integration_id,
    actor: { kind: 'SYSTEM', label: 'webhooks', apiKeyId: null, subject: null },
    requestId: null,
    data: { reason, url: origin },
  });
}
