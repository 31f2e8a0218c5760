import {
  getNamedType,
  getVariableValues,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  parse,
  validate,
} from 'graphql';

/** A seeded PRNG (mulberry32): the same seed gives the same requests, so a failure reproduces. */
export class Random {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(below: number): number {
    return Math.floor(this.next() * below);
  }
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  bool(probability = 0.5): boolean {
    return this.next() < probability;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  string(length: number, alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'): string {
    let text = '';
    for (let i = 0; i < length; i += 1) text += alphabet[this.int(alphabet.length)];
    return text;
  }
  bytes(length: number): Uint8Array {
    return Uint8Array.from({ length }, () => this.int(256));
  }
}

/** A value both as a GraphQL literal and as JSON for a variable. */
interface Value {
  literal: string;
  json: unknown;
}

const v = (literal: string, json: unknown): Value => ({ literal, json });
const NULL = v('null', null);

/** Values no input type of that name accepts (ID accepts integers and strings, so it gets neither). */
const WRONG_SCALARS: Record<string, Value[]> = {
  Int: [v('"12"', '12'), v('1.5', 1.5), v('true', true), v('2147483648', 2147483648), v('{a: 1}', { a: 1 })],
  Float: [v('"1.5"', '1.5'), v('true', true), v('{a: 1}', { a: 1 })],
  String: [v('12', 12), v('1.5', 1.5), v('false', false), v('{a: "x"}', { a: 'x' })],
  ID: [v('1.5', 1.5), v('true', true), v('{a: 1}', { a: 1 }), v('BARE_NAME', [[1]])],
  Boolean: [v('"true"', 'true'), v('1', 1), v('0.5', 0), v('TRUE', 'TRUE')],
  DateTime: [v('123', 123), v('"not a date"', 'not a date'), v('"2026-13-45T99:00:00Z"', '2026-13-45T99:00:00Z')],
  JSONObject: [v('1', 1), v('"text"', 'text'), v('[1, 2]', [1, 2]), v('true', true)],
};

/** A value that the input type refuses. */
export function wrongValue(type: GraphQLInputType, random: Random): Value {
  if (isNonNullType(type)) return random.bool(0.25) ? NULL : wrongValue(type.ofType, random);
  if (isListType(type)) {
    // A single value stands for a list of one, so a wrong element is wrong either way; a null element is
    // wrong only where elements are non-null.
    const inner = wrongValue(type.ofType, random);
    if (inner.json === null || random.bool()) return v(`[${inner.literal}]`, [inner.json]);
    return inner;
  }
  const named = getNamedType(type) as GraphQLNamedType;
  if (isEnumType(named)) {
    const real = random.pick(named.getValues()).name;
    return random.pick([v(`"${real}"`, 1), v('NOT_A_VALUE', 'NOT_A_VALUE'), v('7', 7), v(real.toLowerCase(), real.toLowerCase())]);
  }
  if (isInputObjectType(named)) {
    const fields = Object.values(named.getFields());
    const required = fields.filter((field) => isNonNullType(field.type) && field.defaultValue === undefined);
    const choices: (() => Value)[] = [
      () => v('"an object"', 'an object'),
      () => v('[1]', [1]),
      () => v('{ notAField: 1 }', { notAField: 1 }),
      () => {
        const field = random.pick(fields);
        const value = wrongValue(field.type, random);
        return v(`{ ${field.name}: ${value.literal} }`, { [field.name]: value.json });
      },
    ];
    if (required.length > 0) choices.push(() => v('{}', {}));
    return random.pick(choices)();
  }
  const wrong = WRONG_SCALARS[named.name];
  if (!wrong) throw new Error(`no wrong values for the scalar ${named.name}`);
  return random.pick(wrong);
}

/** A selection set of the type, a few fields deep, using only fields without required arguments. */
function selectionOf(type: GraphQLNamedType, random: Random, depth: number): string {
  if (isLeafType(type)) return '';
  if (!isObjectType(type) && !isInterfaceType(type)) return '{ __typename }';
  const usable = Object.values(type.getFields()).filter((field) => field.args.every((arg) => !isNonNullType(arg.type)));
  const leaves = usable.filter((field) => isLeafType(getNamedType(field.type)));
  const candidates = depth > 0 ? usable : leaves;
  const picked = new Set<GraphQLField<unknown, unknown>>();
  for (let i = random.between(1, 3); i > 0 && candidates.length > 0; i -= 1) picked.add(random.pick(candidates));
  const parts = [...picked].map((field) => {
    const inner = getNamedType(field.type) as GraphQLNamedType;
    const args = field.name === 'healthChecks' || field.name === 'integrations' ? '(first: 2)' : '';
    return `${field.name}${args} ${selectionOf(inner, random, depth - 1)}`.trim();
  });
  return `{ __typename ${parts.join(' ')} }`;
}

/** Type of an argument as written in a variable definition. */
const typeName = (type: GraphQLInputType): string => type.toString();

/**
 * A document built from the schema in which at least one argument has a value of the wrong type: as a
 * literal, as a variable whose JSON value does not coerce, or as a variable declared with another type.
 * Checked against the schema here, so that every document sent is one the gateway must refuse.
 */
export function wrongArgumentDocument(schema: GraphQLSchema, random: Random): { query: string; variables: Record<string, unknown> } {
  for (;;) {
    const operation = random.bool(0.55) ? 'query' : 'mutation';
    const root = operation === 'query' ? schema.getQueryType() : schema.getMutationType();
    const fields = Object.values(root?.getFields() ?? {}).filter((field) => field.args.length > 0);
    const field = random.pick(fields);
    const arg = random.pick(field.args) as GraphQLArgument;
    const wrong = wrongValue(arg.type, random);
    const mode = random.pick(['literal', 'variable', 'declared'] as const);
    let definitions = '';
    let argument = wrong.literal;
    const variables: Record<string, unknown> = {};
    if (mode === 'variable') {
      definitions = `($v: ${typeName(arg.type)})`;
      argument = '$v';
      variables.v = wrong.json;
    } else if (mode === 'declared') {
      const other = random.pick(['String', 'Int', 'Boolean', '[String!]', 'Float!', 'JSONObject', 'IntegrationStatus']);
      definitions = `($v: ${other})`;
      argument = '$v';
    }
    const selection = selectionOf(getNamedType(field.type) as GraphQLNamedType, random, 2);
    const query = `${operation} Fuzz${definitions} { result: ${field.name}(${arg.name}: ${argument}) ${selection} }`;
    if (isRefused(schema, query, variables)) return { query, variables };
  }
}

/** Whether the document fails validation, or its variables fail to coerce. */
function isRefused(schema: GraphQLSchema, query: string, variables: Record<string, unknown>): boolean {
  const document = parse(query);
  if (validate(schema, document).length > 0) return true;
  const operation = document.definitions.find((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  if (operation?.kind !== Kind.OPERATION_DEFINITION) return true;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  return 'errors' in coerced && (coerced.errors?.length ?? 0) > 0;
}
