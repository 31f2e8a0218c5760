import { type DocumentNode, type ExecutionArgs, type ExecutionResult, getOperationAST } from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import { makeExecute, mapMaybePromise, type Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

/**
 * Operations whose compiled form is kept, least recently used first out. A compiled list page is large
 * (about 120 KB of heap for a W1 page: generated functions and their closures), so this bound, not the
 * parse cache's, decides what distinct documents cost: 100 compiled operations are about 12 MB.
 */
export const COMPILED_OPERATION_CACHE_SIZE = 100;

/** A compiled operation, or `null` when graphql-jit could not compile it (it runs uncompiled). */
type Compiled = CompiledQuery | null;

export interface CompiledExecutionOptions {
  /** Operations kept compiled; COMPILED_OPERATION_CACHE_SIZE when absent. */
  max?: number;
  /** Told of an operation graphql-jit could not compile. */
  onError(result: ExecutionResult): void;
}

export interface CompiledExecution {
  plugin: Plugin;
  /** Operations compiled and kept now: never more than the bound. */
  size(): number;
}

/**
 * Queries and mutations run compiled by graphql-jit: a list page costs a third less CPU (BENCHMARKS.md).
 * Compiled forms are kept in a bounded LRU by document and operation name; a document that left it is
 * compiled again when it comes back. Subscriptions run uncompiled: a subscription executes once per event
 * with the variables it was given, which the compiled executor would coerce again (an enum's value read
 * as its name).
 */
export function compiledExecution(options: CompiledExecutionOptions): CompiledExecution {
  // Keyed by the parsed document, which Yoga's parse cache hands out again for the same text.
  const cache = new LRUCache<DocumentNode, Map<string, Compiled>>({ max: options.max ?? COMPILED_OPERATION_CACHE_SIZE });

  const compiledFor = (args: ExecutionArgs): Compiled => {
    const name = args.operationName ?? '';
    let operations = cache.get(args.document);
    if (operations?.has(name)) return operations.get(name) as Compiled;
    const result = compileQuery(args.schema, args.document, args.operationName ?? undefined);
    let compiled: Compiled = null;
    if (isCompiledQuery(result)) compiled = result;
    else options.onError(result);
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
      if (!compiled) return;
      setExecuteFn(
        makeExecute((run) =>
          mapMaybePromise(compiled.query(run.rootValue, run.contextValue, run.variableValues), (result) =>
            // Yoga serializes with the compiled operation's stringifier when the result carries one.
            Object.assign(result, { stringify: compiled.stringify }),
          ),
        ),
      );
    },
  };
  return { plugin, size: () => cache.size };
}
