import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

// graphql-js appends suggestions as `Did you mean "x"?`, `Did you mean "x" or "y"?` and, for enum values,
// `Did you mean the enum value "X"?`, always at the end of the message.
const SUGGESTION = /\s*Did you mean [^?]*\?$/;

function withoutSuggestion(error: GraphQLError): GraphQLError {
  if (!SUGGESTION.test(error.message)) return error;
  return new GraphQLError(error.message.replace(SUGGESTION, ''), {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

/**
 * Removes "Did you mean …?" from every error a client sees (validation, and variable coercion during
 * execution), so that a production schema cannot be mapped by probing field and value names.
 * graphql-armor's block-field-suggestions misses enum values and variable errors, hence this.
 */
export function useHideSuggestions(): Plugin {
  return {
    onExecutionResult({ result, setResult }) {
      if (!result || Array.isArray(result) || !('errors' in result) || !result.errors?.length) return;
      setResult({ ...result, errors: result.errors.map((error) => (error instanceof GraphQLError ? withoutSuggestion(error) : error)) });
    },
  };
}
