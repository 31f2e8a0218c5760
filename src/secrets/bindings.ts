/**
 * What a webhook endpoint's sealed signing secrets are bound to beside its organization, id and
 * version (in place of an integration's origins), so that no integration's ciphertext opens as an
 * endpoint's, nor one endpoint's as another's. The webhook module seals with it and rotation re-seals.
 */
export const WEBHOOK_ENDPOINT_SECRET_LABEL = 'webhook-endpoint';
