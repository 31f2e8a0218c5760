import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { GraphQLError } from 'graphql';
import type { GatewayContext } from '../context.js';
import { fieldComplexity, isMeasuringCost } from '../http/limits/query-cost.js';
import { type RoleScopes, scopesOfRole } from '../modules/api-key/viewer.js';
import { forbiddenError, forbiddenMessage } from './errors.js';
import { decodeGlobalID, encodeGlobalID } from './global-id.js';

/** Largest number of IDs `nodes(ids:)` accepts. */
export const MAX_NODES = 100;

export const builder = new SchemaBuilder<{
  Context: GatewayContext;
  AuthScopes: RoleScopes;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
    ID: { Input: string; Output: string };
  };
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
}>({
  plugins: [ScopeAuthPlugin, RelayPlugin, ComplexityPlugin],
  defaultFieldNullability: false,
  // Costs only: the limits are enforced per request, before execution, by src/http/limits/cost.plugin.ts.
  complexity: { fieldComplexity },
  scopeAuth: {
    // Root fields' scopes are also checked for the whole operation before it runs (operation-authorization.ts).
    authScopes: (context) => scopesOfRole(context.viewer.role),
    unauthorizedError: (_parent, context) => forbiddenError(forbiddenMessage(context.viewer)),
  },
  relay: {
    cursorType: 'String',
    clientMutationId: 'omit',
    encodeGlobalID: (typename, id) => encodeGlobalID(typename, id),
    decodeGlobalID: (globalID, context) => (isMeasuringCost(context) ? { typename: '', id: globalID } : decodeGlobalID(globalID)),
    nodesQueryOptions: {
      description: `Fetches up to ${MAX_NODES} objects by ID, in the order given; null for IDs the caller cannot see.`,
      resolve: (_root, args, _context, _info, resolveNodes) => {
        if (args.ids.length > MAX_NODES) {
          throw new GraphQLError(`At most ${MAX_NODES} IDs may be fetched at once; ${args.ids.length} were given.`, {
            extensions: { code: 'TOO_MANY_IDS', limit: MAX_NODES },
          });
        }
        return resolveNodes(args.ids);
      },
    },
    nodeQueryOptions: {
      description: 'Fetches an object by ID; null when it does not exist or the caller cannot see it.',
    },
  },
});
