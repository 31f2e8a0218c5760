const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Database ids are UUIDs; anything else is rejected before it reaches SQL, where it would be a cast error. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** The types that `node(id)` can return; every other type name in an ID is refused. */
export const NODE_TYPES = ['ApiKey', 'HealthCheck', 'Integration', 'Organization', 'WebhookDelivery', 'WebhookEndpoint'] as const;
export type NodeTypeName = (typeof NODE_TYPES)[number];

/** The opaque ID the API shows for a row: base64url of `<type>:<uuid>`. */
export function encodeGlobalID(typename: string, id: string | number | bigint): string {
  return Buffer.from(`${typename}:${id}`).toString('base64url');
}

/** The type and row id of an ID this API issued; null for anything else. */
export function parseGlobalID(globalID: string): { typename: NodeTypeName; id: string } | null {
  const text =
    globalID.length <= 200 && /^[A-Za-z0-9_-]+={0,2}$/.test(globalID) ? Buffer.from(globalID, 'base64url').toString('utf8') : '';
  const separator = text.indexOf(':');
  const typename = text.slice(0, separator) as NodeTypeName;
  const id = text.slice(separator + 1);
  if (separator < 0 || !NODE_TYPES.includes(typename) || !isUuid(id)) return null;
  return { typename, id: id.toLowerCase() };
}
