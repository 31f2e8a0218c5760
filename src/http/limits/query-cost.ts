import { complexityFromQuery, type ComplexityResult } from '@pothos/plugin-complexity';
import {
  type DocumentNode,
  type GraphQLField,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  getVariableValues,
  isLeafType,
  isListType,
  Kind,
  type OperationDefinitionNode,
  parse,
  type VariableDefinitionNode,
} from 'graphql';
import { LRUCache } from 'lru-cache';

/** Largest page a connection serves, and largest `nodes(ids:)` list; a bigger request fails in its resolver. */
const MAX_MULTIPLIER = 100;
/** Multiplier of a plain list of objects: an estimate of its length, as GitHub and Shopify assume. */
const LIST_MULTIPLIER = 10;

const clampMultiplier = (value: number) => Math.min(Math.max(Math.trunc(value), 0), MAX_MULTIPLIER);

/**
 * The cost model, after GitHub's and Shopify's: a scalar or enum costs nothing, an object costs 1, and
 * a connection's `first`/`last` (or `nodes(ids:)`'s length) multiplies the cost of everything selected
 * under it. The `edges` list of a connection is already counted by its connection. Multipliers are capped
 * at the largest page the API serves, so an oversized `first` fails with the connection's own error
 * (EXCESSIVE_PAGINATION) instead of a cost error.
 *
 * Passed to `@pothos/plugin-complexity` as `fieldComplexity`: every field uses it unless it sets its own.
 */
export function fieldComplexity(
  args: Record<string, unknown>,
  _context: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: any field of any type: its context and arguments are not read here
  field: GraphQLField<unknown, any, any>,
): number | { field: number; multiplier: number } {
  if (isLeafType(getNamedType(field.type))) return 0;
  const pageSize = typeof args.first === 'number' ? args.first : typeof args.last === 'number' ? args.last : null;
  if (pageSize !== null) return { field: 1, multiplier: clampMultiplier(pageSize) };
  if (Array.isArray(args.ids)) return { field: 1, multiplier: clampMultiplier(args.ids.length) };
  if (isListType(getNullableType(field.type))) return { field: 1, multiplier: field.name === 'edges' ? 1 : LIST_MULTIPLIER };
  return 1;
}

const MEASURING = Symbol('measuring query cost');

/**
 * Whether a context is the one cost measurement passes to argument mappers. Measuring reads arguments
 * (`first`, `ids`) through the schema's mappers, which decode global IDs; an ID that does not decode must
 * not fail the whole request during measurement: the field that takes it reports INVALID_ID when it runs.
 * The relay options of the builder decode leniently for this context.
 */
export function isMeasuringCost(context: unknown): boolean {
  return typeof context === 'object' && context !== null && MEASURING in context;
}

/** The operation a request runs, by name, or the only one. */
export function selectOperation(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | null {
  const operations = document.definitions.filter(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
  if (operationName) return operations.find((operation) => operation.name?.value === operationName) ?? null;
  return operations.length === 1 ? (operations[0] as OperationDefinitionNode) : null;
}

/**
 * Measures the operation that will run, with the plugin's own calculation and the field costs declared
 * in the schema. `null` when the operation is unknown or its variables are invalid: execution refuses
 * such a request as a whole by itself. Any other failure to measure (an argument that cannot be read)
 * is thrown, so that nothing unmeasured runs.
 */
export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  context: object,
): ComplexityResult | null {
  const operation = selectOperation(document, operationName);
  if (!operation) return null;
  if ('errors' in getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {}, { maxErrors: 1 })) return null;
  // The plugin measures the first operation of a document: hand it the selected one and the fragments.
  const fragments = document.definitions.filter((definition) => definition.kind === Kind.FRAGMENT_DEFINITION);
  return complexityFromQuery(
    { kind: Kind.DOCUMENT, definitions: [operation, ...fragments] },
    {
      schema,
      ctx: { ...context, [MEASURING]: true },
      variables: variables ?? {},
    },
  );
}

/**
 * Distinct documents whose costs a process remembers (least recently used first out, an hour at most),
 * variable sets per document, and the longest variables (as JSON) whose measurement is remembered: a
 * longer set is measured again each time rather than kept.
 */
export const REMEMBERED_DOCUMENTS = 1_000;
const REMEMBERED_VARIABLE_SETS = 100;
const REMEMBERED_VARIABLES_LENGTH = 1_024;

interface RememberedDocument {
  /**
   * Held weakly: a document sent once is not kept alive by this cache (a client that inlines its literals
   * would otherwise hold a thousand parsed documents here); parsed again from its text when asked for.
   */
  document: WeakRef<DocumentNode>;
  /** Measurement by operation name and variables (canonical only in that clients repeat themselves). */
  measured: LRUCache<string, { result: ComplexityResult | null }>;
  /** By the name of each of its operations: their variables declared as a single ID (see `costKey`). */
  idVariables: Map<string, readonly string[]>;
}

/** Whether a variable is declared `ID` or `ID!`: one ID, not a list of them. */
const isSingleId = (definition: VariableDefinitionNode) => {
  const type = definition.type.kind === Kind.NON_NULL_TYPE ? definition.type.type : definition.type;
  return type.kind === Kind.NAMED_TYPE && type.name.value === 'ID';
};

/**
 * The variables as they bear on an operation's cost. The value of a variable declared as a single ID never
 * changes the cost (`fieldComplexity` reads page sizes and list lengths), only whether the variables are
 * valid, and an ID is valid as any string or integer: such a value counts by its kind alone. So `node(id:)`
 * asked of a thousand integrations is measured once, not once per integration (about 20 µs each).
 */
function costKey(variables: Record<string, unknown>, idVariables: readonly string[]): string {
  if (idVariables.length === 0) return JSON.stringify(variables);
  const kinds: Record<string, unknown> = { ...variables };
  for (const name of idVariables) {
    const value = kinds[name];
    if (typeof value === 'string') kinds[name] = '\u0000ID string';
    else if (Number.isInteger(value)) kinds[name] = '\u0000ID integer';
  }
  return JSON.stringify(kinds);
}

/**
 * The documents that reached execution, that is, that parsed and validated against this schema, by
 * their text; and their measured cost by operation name and variables. Dashboards send the same few
 * documents over and over, and a document's cost depends only on the document, the operation and the
 * variables: measuring it again on every request (a walk of the whole document, reading every field's
 * arguments) is work that can be done once. Bounded: the least recently used entry goes first.
 */
export class OperationCosts {
  readonly #documents = new LRUCache<string, RememberedDocument>({ max: REMEMBERED_DOCUMENTS, ttl: 3_600_000 });

  constructor(readonly schema: GraphQLSchema) {}

  /** Documents remembered now: never more than REMEMBERED_DOCUMENTS. */
  get size(): number {
    return this.#documents.size;
  }

  /** Records that `query` parsed and validated as `document`. */
  remember(query: string, document: DocumentNode): void {
    const remembered = this.#documents.get(query);
    if (!remembered)
      this.#documents.set(query, {
        document: new WeakRef(document),
        measured: new LRUCache({ max: REMEMBERED_VARIABLE_SETS }),
        idVariables: new Map(),
      });
    else if (remembered.document.deref() !== document) remembered.document = new WeakRef(document);
  }

  /** The validated document for this text, if this process has executed it before. */
  known(query: string): DocumentNode | undefined {
    const remembered = this.#documents.get(query);
    if (!remembered) return undefined;
    let document = remembered.document.deref();
    if (!document) {
      // The same text parsed and validated before: it parses again, to the same document.
      document = parse(query);
      remembered.document = new WeakRef(document);
    }
    return document;
  }

  /** Variable sets whose measurement is remembered for this text now: never more than REMEMBERED_VARIABLE_SETS. */
  rememberedMeasurements(query: string): number {
    return this.#documents.get(query)?.measured.size ?? 0;
  }

  /** `measureOperation`, remembered per document text, operation name and variables as they bear on cost (`costKey`). */
  measure(
    query: string | undefined,
    document: DocumentNode,
    operationName: string | null | undefined,
    variables: Record<string, unknown> | null | undefined,
  ): ComplexityResult | null {
    const remembered = query === undefined ? undefined : this.#documents.get(query);
    // The same text is the same document, whichever parse of it this is.
    if (!remembered) return measureOperation(this.schema, document, operationName, variables, {});
    const name = operationName ?? '';
    let idVariables = remembered.idVariables.get(name);
    if (!idVariables) {
      const operation = selectOperation(document, operationName);
      idVariables = (operation?.variableDefinitions ?? []).filter(isSingleId).map((definition) => definition.variable.name.value);
      // Kept for the document's own operations only: names it does not have would otherwise pile up.
      if (operation) remembered.idVariables.set(name, idVariables);
    }
    const key = `${name}\u0000${variables ? costKey(variables, idVariables) : ''}`;
    const known = remembered.measured.get(key);
    if (known) return known.result;
    const result = measureOperation(this.schema, document, operationName, variables, {});
    if (key.length <= REMEMBERED_VARIABLES_LENGTH) remembered.measured.set(key, { result });
    return result;
  }
}

const costsBySchema = new WeakMap<GraphQLSchema, OperationCosts>();

/** The one `OperationCosts` of a schema, shared by the gateways of a process. */
export function operationCostsOf(schema: GraphQLSchema): OperationCosts {
  let costs = costsBySchema.get(schema);
  if (!costs) {
    costs = new OperationCosts(schema);
    costsBySchema.set(schema, costs);
  }
  return costs;
}
