const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Database ids are UUIDs; anything else is rejected before it reaches SQL, where it would be a cast error. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
