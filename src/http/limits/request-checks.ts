import { GraphQLError, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

// Checks on a request's form that Yoga and graphql-js leave to chance: how deeply a document nests,
// which operation types exist, and strings PostgreSQL cannot store (media types: hardening.media-types.ts).
// Each one turns what used to be a 5xx, an empty body or a mutation run for nothing into a coded 4xx.

/**
 * Refuses operations of a type the schema does not have (graphql-js 17's KnownOperationTypesRule): a
 * `subscription` would otherwise reach execution, where graphql-jit throws and the answer is a 500.
 */
const KnownOperationTypesRule: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (!context.getSchema().getRootType(node.operation)) {
      context.reportError(new GraphQLError(`The schema does not support ${node.operation} operations.`, { nodes: node }));
    }
  },
});

export function useKnownOperationTypes(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(KnownOperationTypesRule);
    },
  };
}

/**
 * How deeply braces, brackets and parentheses may nest: room for the deepest query the depth limit allows
 * (a selection set and an argument list or input value per level), far from where graphql-js's recursive
 * parser and validation run out of stack. A 2,000-token document of nested lists (`[[[[…]]]]`) otherwise
 * overflows the stack while parsing, which is a 500.
 */
export const nestingLimitFor = (maxDepth: number) => 2 * maxDepth + 20;

/** The deepest nesting of `{`, `[` and `(` in a document, outside strings and comments. */
export function nestingOf(source: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < source.length; i += 1) {
    const char = source[i];
    if (char === '#') {
      while (i < source.length && source[i] !== '\n' && source[i] !== '\r') i += 1;
    } else if (char === '"') {
      if (source.startsWith('"""', i)) {
        const end = source.indexOf('"""', i + 3);
        // A block string escapes a closing """ as \"""; skip past any escaped ones.
        let close = end;
        while (close > 0 && source[close - 1] === '\\') close = source.indexOf('"""', close + 3);
        i = close < 0 ? source.length : close + 2;
      } else {
        i += 1;
        while (i < source.length && source[i] !== '"' && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1;
      }
    } else if (char === '{' || char === '[' || char === '(') {
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if (char === '}' || char === ']' || char === ')') {
      depth -= 1;
    }
  }
  return deepest;
}

/** Refuses a document nested deeper than `nestingLimitFor(maxDepth)` before it is parsed. */
export function useNestingLimit(maxDepth: number): Plugin {
  const limit = nestingLimitFor(maxDepth);
  return {
    onParse({ params }) {
      const source = typeof params.source === 'string' ? params.source : params.source.body;
      const found = nestingOf(source);
      if (found > limit) {
        throw new GraphQLError(`The document nests braces and brackets ${found} levels deep; at most ${limit} are allowed.`, {
          extensions: { code: 'MAX_DEPTH_EXCEEDED', limit, found, http: { status: 400 } },
        });
      }
    },
  };
}

/**
 * A UTF-16 code unit of a surrogate pair without its other half. With the `u` flag a well-formed pair is
 * one code point, so only a lone surrogate matches.
 */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * What is wrong with a request's variables, walked without recursion (they may nest thousands deep):
 * `nul` when a string or object key holds U+0000, `surrogate` when one holds a lone surrogate, `deep`
 * when they nest deeper than `limit`.
 */
export function variablesProblem(variables: unknown, limit: number): 'nul' | 'surrogate' | 'deep' | null {
  const stack: [unknown, number][] = [[variables, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (typeof value === 'string') {
      const problem = stringProblem(value);
      if (problem) return problem;
    } else if (value !== null && typeof value === 'object') {
      if (depth >= limit) return 'deep';
      for (const [key, member] of Object.entries(value)) {
        const problem = stringProblem(key);
        if (problem) return problem;
        stack.push([member, depth + 1]);
      }
    }
  }
  return null;
}

function stringProblem(value: string): 'nul' | 'surrogate' | null {
  if (value.includes('\u0000')) return 'nul';
  return LONE_SURROGATE.test(value) ? 'surrogate' : null;
}

const STRING_PROBLEMS = {
  nul: 'Strings may not contain the character U+0000.',
  surrogate: 'Strings may not contain a lone surrogate (U+D800 to U+DFFF without its pair): it is not a character.',
};

const stringError = (problem: 'nul' | 'surrogate') =>
  new GraphQLError(STRING_PROBLEMS[problem], { extensions: { code: 'BAD_USER_INPUT', http: { status: 400, spec: true } } });

const NoNulStringsRule: ValidationRule = (context) => ({
  StringValue(node) {
    if (node.value.includes('\u0000'))
      context.reportError(new GraphQLError('Strings may not contain the character U+0000.', { nodes: node }));
  },
});

/**
 * Refuses U+0000 in any string of a request (literal or variable), and variables nested deeper than the
 * document may nest. PostgreSQL's text and jsonb cannot hold U+0000, so such a string reaching a statement
 * fails there ("invalid byte sequence for encoding UTF8: 0x00") and the caller would get a masked
 * INTERNAL_SERVER_ERROR for what is bad input; and deeply nested variables overflow the stack of whatever
 * walks them recursively (variable coercion, the Idempotency-Key fingerprint). A lone surrogate in a
 * variable is refused too: it has no UTF-8 encoding, and would be stored as U+FFFD without a word (in the
 * document itself, graphql-js's parser already refuses one).
 */
export function useVariableChecks(maxDepth: number): Plugin {
  const limit = nestingLimitFor(maxDepth);
  return {
    onParams({ params, setResult }) {
      const problem = variablesProblem(params.variables, limit + 1);
      if (problem === 'nul' || problem === 'surrogate') setResult({ errors: [stringError(problem)] });
      if (problem === 'deep') {
        setResult({
          errors: [
            new GraphQLError(`The variables nest deeper than ${limit} levels.`, {
              extensions: { code: 'MAX_DEPTH_EXCEEDED', limit, http: { status: 400, spec: true } },
            }),
          ],
        });
      }
    },
    onValidate({ addValidationRule }) {
      addValidationRule(NoNulStringsRule);
    },
  };
}

/** The body length a request declares in Content-Length: null without one, 'invalid' when it is not a number of bytes. */
export function declaredBodyLength(request: Request): number | null | 'invalid' {
  const length = request.headers.get('content-length');
  if (length === null) return null;
  return /^\d+$/.test(length) ? Number(length) : 'invalid';
}

function bodyTooLarge(limit: number): GraphQLError {
  return new GraphQLError(`The request body is larger than the ${limit} bytes allowed.`, {
    extensions: { code: 'REQUEST_ENTITY_TOO_LARGE', limit, http: { status: 413 } },
  });
}

/** Reads a body sent without a Content-Length, refusing it as soon as it passes `limit` bytes. */
async function readWithin(request: Request, limit: number, fetchAPI: { Request: typeof Request }): Promise<Request> {
  const reader = (request.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let read: ReadableStreamReadResult<Uint8Array>;
    try {
      read = await reader.read();
    } catch {
      // The client closed the connection before the body ended: nobody is left to answer, and nothing ran.
      throw new GraphQLError('The request body ended before it was complete.', {
        extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
      });
    }
    const { done, value } = read;
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw bodyTooLarge(limit);
    }
    chunks.push(value);
  }
  return new fetchAPI.Request(request.url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    body: Buffer.concat(chunks),
  });
}

/**
 * The request body limit, in place of Yoga's, which runs every body through a web TransformStream and
 * a new Request even when its Content-Length is well within the limit: about 0.3-0.4 ms of CPU per
 * request, a third of what a small query costs in all (BENCHMARKS.md). A body with a Content-Length is
 * refused when that length is over the limit (or is not a number) and otherwise left alone, because the
 * HTTP server reads exactly Content-Length bytes of body, never more. Only a body without one (chunked)
 * is counted as it is read, and refused as soon as it passes the limit.
 */
export function useRequestBodyLimit(limit: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const length = declaredBodyLength(request);
      if (length === 'invalid') {
        throw new GraphQLError('The Content-Length header is not a number of bytes.', {
          extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
        });
      }
      if (length !== null) {
        if (length > limit) throw bodyTooLarge(limit);
        return;
      }
      if (!requestParser || request.body === null) return;
      setRequestParser(async (unread) => requestParser(await readWithin(unread, limit, fetchAPI)));
    },
  };
}
