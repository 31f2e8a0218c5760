import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  GraphQLError,
  getOperationAST,
  getVariableValues,
  type OperationDefinitionNode,
  type Source,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import { makeExecute, mapMaybePromise, type Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import { coercedVariables } from './operation-authorization.js';
import { Sightings } from './sightings.js';

/**
 * Operations whose compiled form is kept, least recently used first out. A compiled list page is large
 * (about 120 KB of heap for a W1 page: generated functions and their closures), so this bound, not the
 * parse cache's, decides what distinct documents cost: 100 compiled operations are about 12 MB.
 */
export const COMPILED_OPERATION_CACHE_SIZE = 100;

/**
 * An operation is compiled when it runs for this time; before, it runs uncompiled (graphql-js's executor).
 * Compiling costs about 16 ms of CPU and 100 KB of generated code for a list page, which pays off only for
 * an operation that comes back: a client that inlines its literals sends documents that never do.
 */
export const COMPILE_ON_EXECUTION = 2;

/**
 * Operations counted until they reach COMPILE_ON_EXECUTION, least recently used first out, by a digest of
 * their text and name: a few bytes each, and no parsed document is kept for them.
 */
export const COUNTED_OPERATION_CACHE_SIZE = 1_000;

/** A compiled operation and its definition, or `null` when graphql-jit could not compile it (it runs uncompiled). */
type Compiled = { query: CompiledQuery; operation: OperationDefinitionNode } | null;

export interface CompiledExecutionOptions {
  /** Operations kept compiled; COMPILED_OPERATION_CACHE_SIZE when absent. */
  max?: number;
  /** The execution on which an operation is compiled (1: at once); COMPILE_ON_EXECUTION when absent. */
  compileOn?: number;
  /** Told of an operation graphql-jit could not compile. */
  onError(result: ExecutionResult): void;
}

export interface CompiledExecution {
  plugin: Plugin;
  /** Operations compiled and kept now: never more than the bound. */
  size(): number;
  /** Operations run but not compiled yet, counted: never more than COUNTED_OPERATION_CACHE_SIZE. */
  counted(): number;
}

/**
 * Queries and mutations that repeat run compiled by graphql-jit: a list page costs a third less CPU
 * (BENCHMARKS.md). An operation (a document and an operation name) runs uncompiled until its
 * `compileOn`-th execution, counted in a bounded LRU; then its compiled form is kept in a bounded LRU. A
 * document that left either is counted again from one when it comes back. Both executors answer the same
 * (`test/compiled-execution.test.ts` compares them). Subscriptions run uncompiled: a subscription executes
 * once per event with the variables it was given, which the compiled executor would coerce again (an
 * enum's value read as its name).
 */
export function compiledExecution(options: CompiledExecutionOptions): CompiledExecution {
  const compileOn = options.compileOn ?? COMPILE_ON_EXECUTION;
  // Keyed by the parsed document, which Yoga's parse cache hands out again for the same text.
  const cache = new LRUCache<DocumentNode, Map<string, Compiled>>({ max: options.max ?? COMPILED_OPERATION_CACHE_SIZE });
  const executions = new Sightings(COUNTED_OPERATION_CACHE_SIZE);

  /** The compiled operation, `null` when it is not compiled (yet, or graphql-jit could not). */
  const compiledFor = (args: ExecutionArgs): Compiled => {
    const name = args.operationName ?? '';
    let operations = cache.get(args.document);
    if (operations?.has(name)) return operations.get(name) as Compiled;
    if (compileOn > 1) {
      // Counted by text (the parse cache hands out one document per text only once it has kept it).
      const text = args.document.loc?.source.body;
      if (text === undefined) return null;
      const operation = `${name}\u0000${text}`;
      if (executions.see(operation) < compileOn) return null;
      executions.forget(operation);
    }
    const result = compileQuery(args.schema, args.document, args.operationName ?? undefined);
    const operation = getOperationAST(args.document, args.operationName);
    let compiled: Compiled = null;
    if (isCompiledQuery(result) && operation) compiled = { query: result, operation };
    else if (!isCompiledQuery(result)) options.onError(result);
    if (!operations) {
      operations = new Map();
      cache.set(args.document, operations);
    }
    operations.set(name, compiled);
    return compiled;
  };

  const plugin: Plugin = {
    onExecute({ args, setExecuteFn }) {
      if (getOperationAST(args.document, args.operationName)?.operation === 'subscription') return;
      const compiled = compiledFor(args);
      // graphql-js itself rather than Yoga's default executor, which orders an object's fields as their
      // resolvers finish: both executors then answer in the document's order.
      if (!compiled) setExecuteFn(execute);
      else setExecuteFn(makeExecute((run) => executeCompiled(compiled, run)));
    },
  };
  return { plugin, size: () => cache.size, counted: () => executions.size };
}

/**
 * Runs a compiled operation so that its answer is the one graphql-js gives: variables are coerced by
 * graphql-js first (graphql-jit words its coercion errors differently), errors come first and carry their
 * locations in the document (graphql-jit's errors have no AST nodes, from which Yoga's serializer
 * rebuilds locations), then the compiled operation runs with the variables as sent.
 */
function executeCompiled(compiled: NonNullable<Compiled>, run: ExecutionArgs) {
  const definitions = compiled.operation.variableDefinitions;
  // Variables already coerced for this request (its authorization did) are valid; others are coerced here,
  // and refused with graphql-js's errors.
  if (definitions?.length && !coercedVariables(run.schema, compiled.operation, run.variableValues)) {
    const coerced = getVariableValues(run.schema, definitions, run.variableValues ?? {}, { maxErrors: 50 });
    if (coerced.errors) return { errors: coerced.errors };
  }
  return mapMaybePromise(compiled.query.query(run.rootValue, run.contextValue, run.variableValues), (result) => {
    const source = run.document.loc?.source;
    const answer: ExecutionResult & { stringify?: CompiledQuery['stringify'] } = result.errors?.length
      ? { errors: result.errors.map((error) => locatedError(error, source)), data: result.data }
      : { data: result.data };
    if (result.extensions) answer.extensions = result.extensions;
    // Yoga serializes with the compiled operation's stringifier when the result carries one.
    answer.stringify = compiled.query.stringify;
    return answer;
  });
}

/** A graphql-jit error as graphql-js would raise it: positions in the document's source, so that Yoga keeps its locations. */
function locatedError(error: GraphQLError, source: Source | undefined): GraphQLError {
  if (!source || !error.locations?.length) return error;
  // Lines as graphql-js counts them (getLocation): ended by CR LF, LF or CR.
  const lineStarts = [0];
  for (const end of source.body.matchAll(/\r\n|[\n\r]/g)) lineStarts.push(end.index + end[0].length);
  const positions = error.locations.map(({ line, column }) => (lineStarts[line - 1] ?? 0) + column - 1);
  return new GraphQLError(error.message, {
    source,
    positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}
