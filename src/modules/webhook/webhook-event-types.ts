/** Every event type the gateway sends, which endpoint filters are checked against. */
export const WEBHOOK_EVENT_TYPES: readonly string[] = [
  'integration.connected',
  'integration.reconnected',
  'integration.status_changed',
  'integration.health_changed',
  'integration.credentials_refreshed',
  'integration.refresh_failed',
  'integration.needs_reauth',
  'integration.revoked',
  'integration.sync_completed',
  'integration.sync_failed',
  'api_key.created',
  'api_key.revoked',
  'webhook_endpoint.disabled',
];

/** The type of the message `sendTestEvent` sends, whatever the endpoint's filter. */
export const TEST_EVENT_TYPE = 'webhook_endpoint.test';
