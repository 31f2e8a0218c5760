/** What the gateway's plugins learn about one request, for its headers, log line, metrics and span. */
export interface RequestFacts {
  operationName?: string;
  operationType?: string;
  /** Cost points of the operation, when measured. */
  cost?: number;
  /** The x-ratelimit-* headers to send. */
  rateLimitHeaders?: Record<string, string>;
  /** Codes of the errors in the answer. */
  errorCodes?: string[];
}

/** Per-request facts, keyed by the request object, shared by the plugins of one gateway. */
export class RequestFactsMap {
  readonly #facts = new WeakMap<Request, RequestFacts>();

  of(request: Request): RequestFacts {
    let facts = this.#facts.get(request);
    if (!facts) {
      facts = {};
      this.#facts.set(request, facts);
    }
    return facts;
  }

  peek(request: Request): RequestFacts | undefined {
    return this.#facts.get(request);
  }
}
