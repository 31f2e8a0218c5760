import type { ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { GatewayContext } from '../context.js';

// GraphQL over Server-Sent Events (distinct connections mode), as Yoga writes it, with one addition: a
// subscription's message carries the position of the event it was made for as the SSE `id`, so that a
// client reconnecting sends it back as `Last-Event-ID` and resumes after it.

/** Where a message's position travels from the subscription's execution to the stream; never sent. */
const POSITION = Symbol('event position');

type Message = ExecutionResult & { [POSITION]?: number };

/** Comment lines that keep proxies and clients from closing a quiet stream. */
export const DEFAULT_KEEP_ALIVE_MS = 12_000;

function acceptsEventStream(request: Request): boolean {
  return (request.headers.get('accept') ?? '').toLowerCase().includes('text/event-stream');
}

/** The HTTP status an answer's errors ask for (a refused subscription: 429), else 200. */
function statusOf(result: unknown): number {
  const errors = (result as ExecutionResult | null)?.errors ?? [];
  let status = 200;
  for (const error of errors) {
    const wanted = (error.extensions?.http as { status?: number } | undefined)?.status;
    if (typeof wanted === 'number' && wanted > status) status = wanted;
  }
  return status;
}

function eventStreamResponse(
  result: unknown,
  fetchAPI: { Response: typeof Response; ReadableStream: typeof ReadableStream },
  keepAliveMs: number,
) {
  const encoder = new TextEncoder();
  let iterator: AsyncIterator<Message> | null = null;
  let single: Message | null = null;
  let ping: NodeJS.Timeout | undefined;
  const stream = new fetchAPI.ReadableStream<Uint8Array>({
    start(controller) {
      // At once: some clients wait for the first bytes before they report the stream open.
      controller.enqueue(encoder.encode(':\n\n'));
      ping = setInterval(() => {
        if (controller.desiredSize === null) clearInterval(ping);
        else if (controller.desiredSize > 0) controller.enqueue(encoder.encode(':\n\n'));
      }, keepAliveMs);
      if (isAsyncIterable(result)) iterator = (result as AsyncIterable<Message>)[Symbol.asyncIterator]();
      else single = result as Message;
    },
    async pull(controller) {
      let next: IteratorResult<Message>;
      try {
        if (iterator) next = await iterator.next();
        else if (single) {
          next = { value: single, done: false };
          single = null;
        } else next = { value: undefined, done: true };
      } catch (error) {
        clearInterval(ping);
        controller.error(error);
        return;
      }
      if (!next.done && next.value) {
        const { [POSITION]: position, ...message } = next.value;
        const id = position === undefined ? '' : `id: ${position}\n`;
        controller.enqueue(encoder.encode(`${id}event: next\ndata: ${JSON.stringify(message)}\n\n`));
      }
      if (next.done) {
        controller.enqueue(encoder.encode('event: complete\ndata:\n\n'));
        clearInterval(ping);
        controller.close();
      }
    },
    async cancel() {
      clearInterval(ping);
      await iterator?.return?.();
    },
  });
  return new fetchAPI.Response(stream, {
    status: statusOf(result),
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'content-encoding': 'none' },
  });
}

/**
 * Writes answers asked for as `text/event-stream` with each subscription message's event position as
 * its SSE `id`, and a comment every `keepAliveMs` so that nothing idle-times the stream out.
 */
export function useEventStream(options: { keepAliveMs?: number } = {}): Plugin<GatewayContext> {
  const keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
  return {
    onSubscribe() {
      return {
        onSubscribeResult() {
          return {
            onNext({ args, result, setResult }) {
              const position = (args.contextValue as Partial<GatewayContext>).eventStream?.position;
              if (typeof position === 'number') setResult({ ...result, [POSITION]: position } as ExecutionResult);
            },
          };
        },
      };
    },
    onResultProcess({ request, setResultProcessor }) {
      if (!acceptsEventStream(request)) return;
      setResultProcessor((result, fetchAPI) => eventStreamResponse(result, fetchAPI, keepAliveMs), 'text/event-stream');
    },
  };
}
