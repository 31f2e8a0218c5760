import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import type { PageRequest } from '../../graphql/pagination.js';
import { parseGlobalID } from '../../ids.js';
import { hasRole, type Viewer } from '../api-key/viewer.js';
import { type ActorKind, EVENT_TYPES, type EventType, type StoredEvent } from './event.model.js';
import { type EventFilter, listEvents } from './event.repository.js';
import type { CursorPosition } from '../../graphql/pagination.js';

// The audit log: the organization's events as a reader of a role may see them.

/** Events only ADMIN keys read, as only they read API keys. */
export const ADMIN_ONLY_TYPES: readonly EventType[] = EVENT_TYPES.filter((type) => type.startsWith('api_key.'));

/** The types a viewer may not see. */
export function hiddenTypesFor(viewer: Viewer): readonly EventType[] {
  return hasRole(viewer, 'ADMIN') ? [] : ADMIN_ONLY_TYPES;
}

/** Whether a viewer may see an event of this type. */
export function visibleTo(viewer: Viewer, event: Pick<StoredEvent, 'type' | 'organizationId'>): boolean {
  return event.organizationId === viewer.organization.id && !hiddenTypesFor(viewer).includes(event.type);
}

/** A filter as a client gives it (GraphQL or REST): global IDs, before validation. */
export interface EventFilterInput {
  types?: readonly EventType[] | null | undefined;
  subjectIds?: readonly string[] | null | undefined;
  actor?: {
    kinds?: readonly ActorKind[] | null | undefined;
    apiKeyId?: string | null | undefined;
    label?: string | null | undefined;
  } | null;
  since?: Date | null | undefined;
  until?: Date | null | undefined;
}

/** Most values a list member of the filter takes. */
const MAX_FILTER_VALUES = 100;

/** Validates a client's filter; a bad value is a VALIDATION error naming its field. */
export function cleanEventFilter(input: EventFilterInput | null | undefined, field: string[]): EventFilter {
  if (!input) return {};
  const tooMany = (values: readonly unknown[] | null | undefined, name: string) => {
    if (values && values.length > MAX_FILTER_VALUES)
      throw new ServiceError('VALIDATION', `At most ${MAX_FILTER_VALUES} values may be given.`, [...field, name]);
  };
  tooMany(input.types, 'types');
  tooMany(input.subjectIds, 'subjectIds');
  for (const id of input.subjectIds ?? []) {
    if (!parseGlobalID(id)) throw new ServiceError('VALIDATION', 'Not an ID this API issued.', [...field, 'subjectIds']);
  }
  let apiKeyId: string | undefined;
  if (input.actor?.apiKeyId) {
    const decoded = parseGlobalID(input.actor.apiKeyId);
    if (decoded?.typename !== 'ApiKey') throw new ServiceError('VALIDATION', 'Not the ID of an API key.', [...field, 'actor', 'apiKeyId']);
    apiKeyId = decoded.id;
  }
  if (input.since && input.until && input.since.getTime() >= input.until.getTime())
    throw new ServiceError('VALIDATION', '`since` must be before `until`.', [...field, 'since']);
  return {
    types: input.types ?? undefined,
    subjectIds: input.subjectIds ?? undefined,
    actor: input.actor
      ? { kinds: input.actor.kinds ?? undefined, apiKeyId, label: input.actor.label?.slice(0, 200) ?? undefined }
      : undefined,
    since: input.since ?? undefined,
    until: input.until ?? undefined,
  };
}

/** A page of the viewer's organization's audit log, newest first, confined to what the viewer's role reads. */
export function readEventLog(
  db: Kysely<Database>,
  viewer: Viewer,
  filter: EventFilter,
  page: PageRequest,
): Promise<{ item: StoredEvent; position: CursorPosition }[]> {
  return listEvents(db, viewer.organization.id, { ...filter, hiddenTypes: hiddenTypesFor(viewer) }, page);
}

/** A cursor id of the audit log: the event's `seq`. */
export const isSeq = (id: string) => /^[0-9]{1,19}$/.test(id);
