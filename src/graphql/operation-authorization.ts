import {
  type DocumentNode,
  type FieldNode,
  getDirectiveValues,
  getVariableValues,
  type GraphQLError,
  GraphQLIncludeDirective,
  type GraphQLObjectType,
  type GraphQLSchema,
  GraphQLSkipDirective,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GatewayContext } from '../context.js';
import type { Role } from '../db/database.js';
import { selectOperation } from '../http/limits/query-cost.js';
import { ROLES, type RoleScopes, scopesOfRole } from '../modules/api-key/viewer.js';
import { forbiddenError, forbiddenMessage } from './errors.js';

type Coercions = Map<OperationDefinitionNode, { schema: GraphQLSchema; coerced: Record<string, unknown> | null }>;

/**
 * Coercions done, by the request's variables object (held weakly: gone with the request). A request's
 * variables are coerced by its early charge, its operation's authorization and its compiled execution:
 * once is enough, since nothing changes a request's variables once they are parsed.
 */
const coercions = new WeakMap<object, Coercions>();

/**
 * An operation's variables coerced to their types, or null when they do not coerce (execution then refuses
 * the operation whole). The answer is the same object for the same variables object: it is not to be changed.
 */
export function coercedVariables(schema: GraphQLSchema, operation: OperationDefinitionNode, raw: unknown): Record<string, unknown> | null {
  const given = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
  let done = given ? coercions.get(given) : undefined;
  const known = done?.get(operation);
  if (known?.schema === schema) return known.coerced;
  const result = getVariableValues(schema, operation.variableDefinitions ?? [], given ?? {}, { maxErrors: 1 });
  const coerced = 'coerced' in result && result.coerced ? result.coerced : null;
  if (given) {
    if (!done) {
      done = new Map();
      coercions.set(given, done);
    }
    done.set(operation, { schema, coerced });
  }
  return coerced;
}

/**
 * The root fields an operation runs, in document order: those of its selection set and of the fragments
 * and inline fragments spread into it, without those that `@skip` or `@include` leave out.
 */
export function rootFieldsOf(document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>): FieldNode[] {
  const fields: FieldNode[] = [];
  const included = (node: FieldNode | SelectionSetNode['selections'][number]) =>
    getDirectiveValues(GraphQLSkipDirective, node, variables)?.if !== true &&
    getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false;
  const visit = (selectionSet: SelectionSetNode, seen: Set<string>) => {
    for (const selection of selectionSet.selections) {
      if (!included(selection)) continue;
      if (selection.kind === Kind.FIELD) fields.push(selection);
      else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet, seen);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
        if (fragment?.kind === Kind.FRAGMENT_DEFINITION) visit(fragment.selectionSet, seen);
      }
    }
  };
  visit(operation.selectionSet, new Set());
  return fields;
}

/**
 * Whether a Pothos `authScopes` value admits a holder of `scopes`: a boolean, or a map of scope names
 * (each `true`) with optional `$any`/`$all` maps, any one of which suffices (Pothos's default strategy).
 * Anything else (scope functions, loaders, `$granted`) depends on more than the role and cannot be
 * decided before execution: it is refused when the schema is read, so that no root field goes unchecked.
 */
function scopesAdmit(authScopes: unknown, scopes: RoleScopes, where: string, all = false): boolean {
  if (typeof authScopes === 'boolean') return authScopes;
  if (authScopes === null || typeof authScopes !== 'object' || Array.isArray(authScopes))
    throw new Error(`${where}: authScopes must be a scope map to be checked before execution`);
  const { $any, $all, ...named } = authScopes as Record<string, unknown>;
  const results = Object.entries(named).map(([name, parameter]) => {
    if (parameter !== true || !(name in scopes)) throw new Error(`${where}: scope ${name} cannot be checked before execution`);
    return scopes[name as keyof RoleScopes];
  });
  if ($any !== undefined) results.push(scopesAdmit($any, scopes, where, false));
  if ($all !== undefined) results.push(scopesAdmit($all, scopes, where, true));
  return all ? results.every(Boolean) : results.some(Boolean);
}

const authScopesOf = (holder: { extensions?: unknown }): unknown =>
  (holder.extensions as { pothosOptions?: { authScopes?: unknown } } | undefined)?.pothosOptions?.authScopes;

/** The roles allowed each root field, by operation type and field name. */
type RootFieldRoles = Map<string, Map<string, ReadonlySet<Role>>>;

function readRootFieldRoles(schema: GraphQLSchema): RootFieldRoles {
  const table: RootFieldRoles = new Map();
  const roots: [string, GraphQLObjectType | null | undefined][] = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ];
  for (const [operationType, type] of roots) {
    if (!type) continue;
    const fields = new Map<string, ReadonlySet<Role>>();
    const typeScopes = authScopesOf(type);
    for (const field of Object.values(type.getFields())) {
      const fieldScopes = authScopesOf(field);
      const where = `${type.name}.${field.name}`;
      // Pothos runs a root type's scopes on each of its fields, then the field's own.
      const allowed = ROLES.filter((role) => {
        const scopes = scopesOfRole(role);
        return (
          (typeScopes === undefined || scopesAdmit(typeScopes, scopes, type.name)) &&
          (fieldScopes === undefined || scopesAdmit(fieldScopes, scopes, where))
        );
      });
      fields.set(field.name, new Set(allowed));
    }
    table.set(operationType, fields);
  }
  return table;
}

const rolesBySchema = new WeakMap<GraphQLSchema, RootFieldRoles>();

function rootFieldRoles(schema: GraphQLSchema): RootFieldRoles {
  let table = rolesBySchema.get(schema);
  if (!table) {
    table = readRootFieldRoles(schema);
    rolesBySchema.set(schema, table);
  }
  return table;
}

/** Whether `role` may run a root field; introspection fields (`__typename`, `__schema`, `__type`) are open to all. */
function allows(schema: GraphQLSchema, operation: OperationDefinitionNode, field: FieldNode, role: Role): boolean {
  const roles = rootFieldRoles(schema).get(operation.operation)?.get(field.name.value);
  return roles === undefined ? field.name.value.startsWith('__') : roles.has(role);
}

/** The root fields of the operation that `role` may not run, one per response name. */
export function forbiddenRootFields(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fields: readonly FieldNode[],
  role: Role,
): FieldNode[] {
  const forbidden = new Map<string, FieldNode>();
  for (const field of fields) {
    const responseName = field.alias?.value ?? field.name.value;
    if (!forbidden.has(responseName) && !allows(schema, operation, field, role)) forbidden.set(responseName, field);
  }
  return [...forbidden.values()];
}

/** The roles that may run every root field of the operation. */
export function rolesAllowedToRun(schema: GraphQLSchema, operation: OperationDefinitionNode, fields: readonly FieldNode[]): Role[] {
  return ROLES.filter((role) => fields.every((field) => allows(schema, operation, field, role)));
}

/**
 * Authorizes the whole operation before any of it runs: every root field it selects (through fragments
 * too) must be allowed to the caller's role by the field's `authScopes`. One that is not refuses the
 * operation with FORBIDDEN, as the field itself would, and nothing runs: no resolver, no charge to the
 * rate-limit budgets (the cost plugin comes after this one), no Idempotency-Key claim. Pothos still checks
 * every field's scopes when it resolves; this check makes a document with several mutations all or nothing.
 * The schema's root scopes are read when the gateway is built, so that one this check cannot decide stops it there.
 */
export function useOperationAuthorization(): Plugin {
  return {
    onSchemaChange({ schema }) {
      rootFieldRoles(schema);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const operation = selectOperation(args.document, args.operationName);
      if (!operation) return;
      const variables = coercedVariables(args.schema, operation, args.variableValues);
      if (!variables) return; // refused whole by execution, before any resolver
      const { viewer } = args.contextValue as unknown as GatewayContext;
      const forbidden = forbiddenRootFields(args.schema, operation, rootFieldsOf(args.document, operation, variables), viewer.role);
      if (forbidden.length === 0) return;
      const errors: GraphQLError[] = forbidden.map((field) =>
        forbiddenError(forbiddenMessage(viewer), { path: [field.alias?.value ?? field.name.value] }),
      );
      setResultAndStopExecution({ data: null, errors });
    },
  };
}
