import { parse as parseContentType } from 'content-type';
import { GraphQLError } from 'graphql';
import { type Plugin, processRegularResult } from 'graphql-yoga';
import Negotiator from 'negotiator';
import { requestStateOf, type WithRequestState } from './admission/request-state.js';

// What a request's body may be and what its answer may be, decided once with the media type rules of
// HTTP (RFC 9110): types and parameter names are case-insensitive, `q=0` means "not this one". Yoga
// compares Content-Type byte for byte and ignores q, so it alone would refuse `APPLICATION/JSON` and
// answer `application/json;q=0` in JSON.

/**
 * What the gateway answers in (Yoga's result processors), in the order it prefers them when the client
 * has no preference (`*\/*`): plain JSON first, as Yoga does. All in UTF-8 only, so an Accept naming
 * another charset matches none.
 */
const ANSWERABLE = ['application/json', 'application/graphql-response+json', 'text/event-stream', 'multipart/mixed'].map(
  (type) => `${type}; charset=utf-8`,
);
const JSON_ANSWERS = new Set(['application/json', 'application/graphql-response+json']);

/**
 * A function of one header value, remembered for the values a gateway's clients keep sending (each
 * request asks two or three times, and a client sends the same header on every request): at most 64
 * values of at most 256 characters, forgotten all at once when full.
 */
function byHeader<T>(of: (header: string | null) => T): (header: string | null) => T {
  const known = new Map<string | null, T>();
  return (header) => {
    let value = known.get(header);
    if (value === undefined && !known.has(header)) {
      value = of(header);
      if (header === null || header.length <= 256) {
        if (known.size >= 64) known.clear();
        known.set(header, value);
      }
    }
    return value as T;
  };
}

/** The media type to answer in, from an Accept header (absent or blank: anything); undefined when none is acceptable. */
export const answerMediaType = byHeader((accept: string | null): string | undefined => {
  const header = accept === null || accept.trim() === '' ? '*/*' : accept;
  return new Negotiator({ headers: { accept: header } }).mediaType(ANSWERABLE)?.split(';', 1)[0];
});

/** Whether an Accept header names a type the gateway answers in. */
export function acceptsAnswer(accept: string | null): boolean {
  return answerMediaType(accept) !== undefined;
}

/**
 * Whether a request is a JSON POST that the media type checks let through: a JSON body in UTF-8 (which
 * browsers preflight, so it is also CSRF-safe) and an Accept the gateway answers.
 */
export function isAnswerableJsonPost(request: Request): boolean {
  if (request.method !== 'POST') return false;
  let mediaType: ReturnType<typeof bodyMediaType>;
  try {
    mediaType = bodyMediaType(request.headers.get('content-type'));
  } catch {
    return false; // an unparsable Content-Type: refused with 415 when its checks run
  }
  return mediaType?.type === 'application/json' && isReadableBody(mediaType) && acceptsAnswer(request.headers.get('accept'));
}

/** Request bodies a parser reads: JSON (Yoga also reads the older `application/graphql+json`) and a bare document. */
const READABLE_BODIES = new Set(['application/json', 'application/graphql+json', 'application/graphql']);

type BodyMediaType = Readonly<{ type: string; charset: string | undefined }>;

function parseBodyMediaType(header: string): BodyMediaType {
  const { type, parameters } = parseContentType(header);
  return { type, charset: parameters.charset?.toLowerCase() };
}

/** A Content-Type's media type and charset, lowercase; `unparsable` when it does not parse; null when there is none. */
const parsedBodyMediaType = byHeader((header: string | null): BodyMediaType | null | 'unparsable' => {
  if (header === null || header.trim() === '') return null;
  try {
    return parseBodyMediaType(header);
  } catch {
    return 'unparsable';
  }
});

/** A Content-Type's media type and charset, lowercase; null when there is none; throws when it does not parse. */
function bodyMediaType(header: string | null): BodyMediaType | null {
  const parsed = parsedBodyMediaType(header);
  // Parsed again to throw the parser's own error, a new one for each request.
  return parsed === 'unparsable' ? parseBodyMediaType(header as string) : parsed;
}

/** Whether a body of this Content-Type is one the gateway reads: JSON or a GraphQL document, in UTF-8. */
function isReadableBody(mediaType: BodyMediaType | null): mediaType is BodyMediaType {
  return mediaType !== null && READABLE_BODIES.has(mediaType.type) && (mediaType.charset === undefined || mediaType.charset === 'utf-8');
}

function unsupportedMediaType(): GraphQLError {
  return new GraphQLError('The body must be application/json (or application/graphql) in UTF-8; this Content-Type is not supported.', {
    extensions: { code: 'UNSUPPORTED_MEDIA_TYPE', http: { status: 415 } },
  });
}

function notAcceptable(): Response {
  // Yoga's 406 has no body; HTTP lets a 406 say why in any type, and JSON says it with a code.
  const error = {
    message: 'Accept must include application/graphql-response+json or application/json (charset utf-8).',
    extensions: { code: 'NOT_ACCEPTABLE' },
  };
  return new Response(JSON.stringify({ errors: [error] }), {
    status: 406,
    headers: { 'content-type': 'application/json; charset=utf-8', accept: 'application/graphql-response+json, application/json' },
  });
}

/**
 * Decides, before anything runs, what Yoga would otherwise decide wrongly or too late:
 * - the Content-Type is put in the spelling Yoga's parsers match, so `APPLICATION/JSON; Charset=UTF-8`
 *   is read as JSON;
 * - a POST body of any type but JSON or a GraphQL document, in UTF-8, or without a Content-Type, is
 *   refused with 415 UNSUPPORTED_MEDIA_TYPE and a JSON error (Yoga would read form posts, and answer
 *   other types with an empty 415);
 * - an Accept naming no type the gateway answers in (`q=0` excludes one) is answered 406 NOT_ACCEPTABLE
 *   (Yoga executes the operation and only then answers 406, so a mutation would run for a caller who
 *   never sees its answer), and an acceptable one is answered in the type the client prefers by q.
 * Methods other than GET and POST are left to Yoga's own 405 (code BAD_REQUEST).
 */
export function useRequestMediaTypes(): Plugin {
  return {
    onRequest({ request }) {
      // Yoga's parsers match `application/json` and `application/json;…` exactly: a readable body gets that spelling.
      const header = request.headers.get('content-type');
      const mediaType = bodyMediaType(header);
      if (!isReadableBody(mediaType)) return;
      const canonical = mediaType.charset === undefined ? mediaType.type : `${mediaType.type}; charset=utf-8`;
      if (canonical !== header) request.headers.set('content-type', canonical);
    },
    onRequestParse({ request, endResponse, serverContext }) {
      if (request.method !== 'GET' && request.method !== 'POST') return;
      const answerType = answerMediaType(request.headers.get('accept'));
      if (answerType === undefined) {
        endResponse(notAcceptable());
        return;
      }
      requestStateOf(serverContext as WithRequestState, request).answerType = answerType;
      if (request.method === 'GET') return;
      if (!isReadableBody(bodyMediaType(request.headers.get('content-type')))) throw unsupportedMediaType();
    },
    onResultProcess({ request, resultProcessor, setResultProcessor, serverContext }) {
      // Only Yoga's own JSON answer is re-typed: an Idempotency-Key replay keeps the type it was stored with.
      const answerType = requestStateOf(serverContext as WithRequestState, request).answerType;
      if (resultProcessor === processRegularResult && answerType !== undefined && JSON_ANSWERS.has(answerType))
        setResultProcessor(processRegularResult, answerType);
    },
  };
}
