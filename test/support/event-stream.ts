import type { DatabaseHandle } from '../../src/db/connection.js';
import { type EventPublisher, startEventPublisher } from '../../src/jobs/event-publisher.js';
import { createLogger } from '../../src/logger.js';
import type { EventConsumer } from '../../src/modules/events/event.model.js';
import { databaseSignal } from '../../src/modules/events/publication-signal.js';

/** The engine's event publisher on a test database, as a worker process runs it (no consumers unless given). */
export function startTestPublisher(database: DatabaseHandle, consumers: EventConsumer[] = []): Promise<EventPublisher> {
  return startEventPublisher({
    db: database.db,
    consumers,
    notifications: database.notifications,
    signal: databaseSignal(database.notifications),
    pollIntervalMs: 200,
    logger: createLogger({ level: 'silent' }),
  });
}

/** One Server-Sent Event as the stream sent it. */
export interface StreamMessage {
  id: string | null;
  event: string;
  data: string;
}

/** A GraphQL subscription read over SSE with plain fetch, as an EventSource would read it. */
export interface EventStreamReader {
  status: number;
  headers: Headers;
  /** The next `next` or `complete` message (keep-alive comments skipped); throws after `timeoutMs`. */
  next(timeoutMs?: number): Promise<StreamMessage>;
  /** The `data` of the next `next` message, parsed. */
  nextResult(timeoutMs?: number): Promise<{ data?: any; errors?: any }>;
  /** Resolves whether a message arrives within `ms` (without consuming it beyond the buffer). */
  quiet(ms: number): Promise<boolean>;
  /** Comment lines (`:`) seen so far: keep-alives. */
  comments(): number;
  close(): void;
}

/** Opens a subscription at `url` (`http://127.0.0.1:<port>/graphql`) with `Accept: text/event-stream`. */
export async function openEventStream(
  url: string,
  key: string | null,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<EventStreamReader> {
  const abort = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
    signal: abort.signal,
  });
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let comments = 0;
  const messages: StreamMessage[] = [];
  let waiter: (() => void) | null = null;
  let ended = false;
  /** Why the stream ended, when it did not end by `close()` or the server's end of the body. */
  let endedBy = 'the server ended the response';
  const pump = async () => {
    try {
      for (;;) {
        const chunk = await reader?.read();
        if (!chunk || chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const message: StreamMessage = { id: null, event: 'message', data: '' };
          let fields = 0;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              comments += 1;
              continue;
            }
            const colon = line.indexOf(':');
            const name = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            fields += 1;
            if (name === 'id') message.id = value;
            else if (name === 'event') message.event = value;
            else if (name === 'data') message.data = message.data ? `${message.data}\n${value}` : value;
          }
          if (fields > 0) messages.push(message);
          waiter?.();
        }
      }
    } catch (error) {
      endedBy = abort.signal.aborted ? 'closed' : `the connection failed: ${String((error as Error).cause ?? error)}`;
    } finally {
      ended = true;
      waiter?.();
    }
  };
  void pump();
  const wait = (timeoutMs: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      waiter = () => {
        clearTimeout(timer);
        waiter = null;
        resolve();
      };
    });
  const next = async (timeoutMs = 10_000): Promise<StreamMessage> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = messages.shift();
      if (message) return message;
      if (ended) throw new Error(`the event stream ended (${endedBy})`);
      if (Date.now() >= deadline) throw new Error(`no event within ${timeoutMs} ms`);
      await wait(deadline - Date.now());
    }
  };
  return {
    status: response.status,
    headers: response.headers,
    next,
    async nextResult(timeoutMs) {
      const message = await next(timeoutMs);
      if (message.event !== 'next') throw new Error(`expected a next message, got ${message.event}`);
      return JSON.parse(message.data);
    },
    async quiet(ms) {
      if (messages.length > 0) return false;
      await wait(ms);
      return messages.length === 0;
    },
    comments: () => comments,
    close: () => abort.abort(),
  };
}
