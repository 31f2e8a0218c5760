import { GraphQLError } from 'graphql';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import { type Connection, type PageRequest, toConnection } from '../../graphql/pagination.js';
import type { Integration } from './integration.model.js';
import {
  countIntegrations,
  type IntegrationFilter,
  type IntegrationOrderField,
  type ListColumn,
  listIntegrationPage,
  type SortDirection,
} from './integration-list.repository.js';

const MAX_FILTER_VALUES = 50;
const MAX_TEXT = 200;

function badInput(message: string, argument: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', argument } });
}

/** Rejects filters that could only be mistakes or abuse, before any SQL runs. */
export function validateFilter(filter: IntegrationFilter): IntegrationFilter {
  for (const name of ['providers', 'statuses', 'healths'] as const) {
    const values = filter[name];
    if (values && values.length > MAX_FILTER_VALUES) {
      throw badInput(`filter.${name} accepts at most ${MAX_FILTER_VALUES} values.`, `filter.${name}`);
    }
  }
  for (const name of ['environment', 'search', 'endUserId'] as const) {
    const value = filter[name];
    if (value != null && value.length > MAX_TEXT)
      throw badInput(`filter.${name} accepts at most ${MAX_TEXT} characters.`, `filter.${name}`);
  }
  // PostgreSQL text cannot hold NUL; such a value can only be a mistake.
  const texts = [filter.environment, filter.search, filter.endUserId, ...(filter.providers ?? [])];
  if (texts.some((text) => text?.includes('\u0000'))) throw badInput('Filter values may not contain NUL characters.', 'filter');
  const search = filter.search?.trim();
  return { ...filter, search: search ? search : null };
}

export interface IntegrationList extends Connection<Integration> {
  /** Counted on demand: the statement runs only when a client selects `totalCount`. */
  totalCount: () => Promise<number>;
}

export function listIntegrations(
  db: Kysely<Database>,
  organizationId: string,
  options: {
    filter: IntegrationFilter;
    orderBy: IntegrationOrderField;
    direction: SortDirection;
    page: PageRequest;
    scope: string;
    /** The columns the selected fields read (integration.selection.ts), or all of them. */
    columns?: readonly ListColumn[] | 'all';
  },
): Promise<IntegrationList> {
  const filter = validateFilter(options.filter);
  return listIntegrationPage(db, organizationId, { ...options, filter }).then((rows) => {
    let count: Promise<number> | undefined;
    return {
      ...toConnection(rows, options.page, options.scope),
      totalCount: () => (count ??= countIntegrations(db, organizationId, filter)),
    };
  });
}
