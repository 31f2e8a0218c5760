import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { GraphQLError, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** Limits on the document itself, checked while it is parsed and validated, before anything runs. */
export interface DocumentLimits {
  /** Most aliased fields in an operation (`__typename` aside). */
  maxAliases: number;
  /** Most lexical tokens in a document; bounds the work of parsing and validating it. */
  maxTokens: number;
  /** Most directives in an operation. */
  maxDirectives: number;
}

/** The count graphql-armor puts in its message ("…, found 31."); its callbacks receive only the error. */
function foundIn(error: GraphQLError): number | undefined {
  const match = /found (\d+)/.exec(error.message);
  return match ? Number(match[1]) : undefined;
}

function limitError(message: string, code: string, limit: number, found: number | undefined): GraphQLError {
  return new GraphQLError(message, { extensions: { code, limit, ...(found === undefined ? {} : { found }) } });
}

/** Reports a limit error in place of graphql-armor's code-less one, through the validation context. */
function reportInstead(what: string, code: string, limit: number) {
  return (context: ValidationContext | null, error: GraphQLError) => {
    const found = foundIn(error);
    context?.reportError(
      limitError(`The operation has ${found ?? 'too many'} ${what}; at most ${limit} are allowed.`, code, limit, found),
    );
  };
}

/**
 * graphql-armor's token, alias and directive limits, reporting errors with a stable code and the numbers
 * (`limit`, `found`) in `extensions`: MAX_TOKENS_EXCEEDED, MAX_ALIASES_EXCEEDED, MAX_DIRECTIVES_EXCEEDED.
 */
export function useDocumentLimits(limits: DocumentLimits): Plugin[] {
  return [
    maxTokensPlugin({
      n: limits.maxTokens,
      propagateOnRejection: false,
      onReject: [
        () => {
          // Thrown from inside the lexer: parsing stops at the first token over the limit.
          throw new GraphQLError(`The document has more than ${limits.maxTokens} tokens; parsing stopped.`, {
            extensions: { code: 'MAX_TOKENS_EXCEEDED', limit: limits.maxTokens, http: { status: 400 } },
          });
        },
      ],
    }) as Plugin,
    maxAliasesPlugin({
      n: limits.maxAliases,
      propagateOnRejection: false,
      onReject: [reportInstead('aliases', 'MAX_ALIASES_EXCEEDED', limits.maxAliases)],
    }) as Plugin,
    maxDirectivesPlugin({
      n: limits.maxDirectives,
      propagateOnRejection: false,
      onReject: [reportInstead('directives', 'MAX_DIRECTIVES_EXCEEDED', limits.maxDirectives)],
    }) as Plugin,
  ];
}
