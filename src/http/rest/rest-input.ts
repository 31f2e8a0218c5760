import { GraphQLError } from 'graphql';
import type { IntegrationHealth, IntegrationStatus } from '../../db/database.js';
import { parseGlobalID } from '../../ids.js';
import type { IntegrationFilter, IntegrationOrderField, SortDirection } from '../../modules/integration/integration-list.repository.js';
import type { ListQuery } from './rest.schemas.js';

// REST parameters in the terms the services take: global IDs to row ids, lowercase enums to the
// domain's, comma-separated filters to lists. A value that does not translate is the client's 400, with
// the same codes as GraphQL (INVALID_ID, BAD_USER_INPUT).

/** A parameter that does not translate; `pointer` is where it is in the request (problem.ts reads it). */
function badParameter(code: string, message: string, pointer: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code, pointer } });
}

/** The row id of an integration's global ID (in the path, or at `pointer` in the body); INVALID_ID for anything else. */
export function integrationIdOf(globalId: string, pointer = '/path/id'): string {
  const decoded = parseGlobalID(globalId);
  if (!decoded) throw badParameter('INVALID_ID', 'Invalid ID: it is not an ID this API issued.', pointer);
  if (decoded.typename !== 'Integration') {
    throw badParameter('INVALID_ID', `Invalid ID: expected the ID of an Integration, got the ID of a ${decoded.typename}.`, pointer);
  }
  return decoded.id;
}

/** The row id a path's ID names, or null when it names none (the request then fails validation, and probes nothing). */
export function integrationIdOrNull(globalId: string | undefined): string | null {
  const decoded = globalId === undefined ? null : parseGlobalID(globalId);
  return decoded?.typename === 'Integration' ? decoded.id : null;
}

const STATUSES: readonly IntegrationStatus[] = ['PENDING_AUTHORIZATION', 'ACTIVE', 'NEEDS_REAUTH', 'ERROR', 'REVOKED'];
const HEALTHS: readonly IntegrationHealth[] = ['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'UNKNOWN'];

function list(value: string | undefined): string[] | null {
  if (value === undefined) return null;
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return items.length > 0 ? items : null;
}

function enumList<T extends string>(value: string | undefined, allowed: readonly T[], name: string): T[] | null {
  const items = list(value);
  if (!items) return null;
  return items.map((item) => {
    const upper = item.toUpperCase() as T;
    if (!allowed.includes(upper)) {
      throw badParameter(
        'BAD_USER_INPUT',
        `"${item.slice(0, 40)}" is not a ${name}; use ${allowed.map((a) => a.toLowerCase()).join(', ')}.`,
        `/query/${name}`,
      );
    }
    return upper;
  });
}

/** The filter, order and list scope (which names its cursors, shared with GraphQL) of a list query. */
export function listTerms(query: ListQuery): {
  filter: IntegrationFilter;
  orderBy: IntegrationOrderField;
  direction: SortDirection;
  scope: string;
} {
  const descending = query.order.startsWith('-');
  const orderBy = (descending ? query.order.slice(1) : query.order).toUpperCase() as IntegrationOrderField;
  const direction: SortDirection = descending ? 'DESC' : 'ASC';
  return {
    filter: {
      providers: list(query.provider),
      statuses: enumList(query.status, STATUSES, 'status'),
      healths: enumList(query.health, HEALTHS, 'health'),
      environment: query.environment ?? null,
      search: query.search ?? null,
      endUserId: query.end_user_id ?? null,
    },
    orderBy,
    direction,
    // The GraphQL list's scope for the same order: a cursor from either API pages the other.
    scope: `integrations:${orderBy}:${direction}`,
  };
}

/** The page size a list request asks for, read before validation to work out its cost: what validation will accept, else 1. */
export function requestedLimit(raw: string | undefined): number {
  const limit = raw === undefined ? 20 : Number(raw);
  return Number.isInteger(limit) && limit >= 1 && limit <= 100 ? limit : 1;
}
