import { type Compilable, type CompiledQuery, createQueryId } from 'kysely';

/**
 * Compiles a query once per shape and reuses its SQL text with each request's values.
 *
 * Building a Kysely query (its operation tree) and compiling it to SQL costs more than a list page's
 * other bookkeeping (BENCHMARKS.md), yet the text is the same for every request of one shape: only the
 * parameters differ. A cached query is built once per shape with placeholder values; where each
 * placeholder landed in `parameters` is recorded, and later requests of that shape take the same text
 * (and so the same named prepared statement, see prepared-statements.ts) with their values put at those
 * positions. The parameters are then exactly what a fresh compile gives (test/compiled-query-cache.test.ts).
 *
 * What a value may do to the SQL is part of the shape, worked out from the values themselves:
 * - an array is a list (`in (...)`), one parameter per element: its length is part of the shape. An
 *   array bound as a single parameter (`any($1::uuid[])`) is passed as `one(array)` and is not;
 * - `null`, `undefined`, `true` and `false` are part of the shape and given to the builder as they are,
 *   since Kysely writes some of them into the text (`is null`);
 * - every other value (strings, numbers, dates) reaches the builder as a placeholder, which refuses to
 *   be read (converted to a string or number, serialised): a builder that computed anything from a value
 *   would build a text for the placeholder, not for the value. Compute such values before, and pass the
 *   result. A placeholder Kysely would write into the text instead of sending it (an immediate value)
 *   makes Kysely throw.
 * Everything else that decides the text (which filters, the order, the columns) the caller names in `shape`.
 */

const ONE = Symbol('one parameter');

/** An array bound as a single parameter (`any($1::uuid[])`), whose length does not change the text. */
export interface OneParameter<T> {
  readonly [ONE]: T;
}

export function one<T>(value: T): OneParameter<T> {
  return { [ONE]: value };
}

/** What a builder receives for a value: placeholders in place of parameters, the value itself where it is the shape. */
export type Built<V> = {
  [K in keyof V]: V[K] extends OneParameter<infer T> ? T : V[K];
};

class Placeholder {
  constructor(
    readonly key: string,
    /** The element of a list, or -1 for the whole value. */
    readonly index: number,
  ) {}
  [Symbol.toPrimitive](): never {
    throw new Error(`The cached query's value "${this.key}" was read while building its shape; compute it before and pass the result.`);
  }
  toJSON(): never {
    return this[Symbol.toPrimitive]();
  }
}

interface Template {
  sql: string;
  query: CompiledQuery['query'];
  /** Per parameter: where its value comes from, or null for a constant of the text's own. */
  slots: (Placeholder | null)[];
  constants: readonly unknown[];
}

/** The shape's part of a value, and whether it is passed as a placeholder. */
function token(value: unknown): string {
  if (value === null) return 'n';
  if (value === undefined) return 'u';
  if (value === true) return 't';
  if (value === false) return 'f';
  if (Array.isArray(value)) {
    let tokens = '[';
    for (const element of value) tokens += token(element);
    return `${tokens}]`;
  }
  return 'v';
}

function isShapeValue(value: unknown): boolean {
  return value === null || value === undefined || value === true || value === false;
}

function placeholdersFor(values: Record<string, unknown>): Record<string, unknown> {
  const built: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    if (isShapeValue(value)) built[key] = value;
    else if (Array.isArray(value))
      built[key] = value.map((element, index) => (isShapeValue(element) ? element : new Placeholder(key, index)));
    else built[key] = new Placeholder(key, -1);
  }
  return built;
}

/** The values as a builder takes them for a fresh compile: `one(array)` unwrapped. */
export function builtValues<V extends object>(values: V): Built<V> {
  const built: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    built[key] = value !== null && typeof value === 'object' && ONE in value ? (value as OneParameter<unknown>)[ONE] : value;
  }
  return built as Built<V>;
}

export class CompiledQueryCache {
  readonly #templates = new WeakMap<object, Map<string, Template>>();

  /** `maxShapes`: shapes kept per database; a shape beyond them is compiled afresh each time. */
  constructor(readonly maxShapes: number) {}

  /**
   * The compiled query `build` makes for `values`, from the shape's cached text. `db` is the Kysely
   * instance the query is built on (the text is its dialect's); `shape` names every choice of the
   * builder that does not follow from the values (see above).
   */
  compile<V extends object>(db: object, shape: string, values: V, build: (values: Built<V>) => Compilable): CompiledQuery {
    const record = values as Record<string, unknown>;
    let key = shape;
    for (const name in record) key += `|${name}:${token(record[name])}`;
    let templates = this.#templates.get(db);
    if (templates === undefined) {
      templates = new Map();
      this.#templates.set(db, templates);
    }
    let template = templates.get(key);
    if (template === undefined) {
      if (templates.size >= this.maxShapes) return build(builtValues(values)).compile();
      template = compileTemplate(build(placeholdersFor(record) as Built<V>).compile());
      templates.set(key, template);
    }
    const { slots, constants } = template;
    const parameters: unknown[] = new Array(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as Placeholder | null;
      if (slot === null) parameters[i] = constants[i];
      else {
        const value = record[slot.key];
        parameters[i] = slot.index >= 0 ? (value as readonly unknown[])[slot.index] : unwrap(value);
      }
    }
    return { query: template.query, queryId: createQueryId(), sql: template.sql, parameters };
  }
}

function unwrap(value: unknown): unknown {
  return value !== null && typeof value === 'object' && ONE in value ? (value as OneParameter<unknown>)[ONE] : value;
}

function compileTemplate(compiled: CompiledQuery): Template {
  const slots = compiled.parameters.map((parameter) => {
    if (parameter instanceof Placeholder) return parameter;
    if (Array.isArray(parameter) && parameter.some((element) => element instanceof Placeholder)) {
      throw new Error('A list of a cached query was bound as one parameter; pass it as one(array).');
    }
    return null;
  });
  return { sql: compiled.sql, query: compiled.query, slots, constants: compiled.parameters };
}
