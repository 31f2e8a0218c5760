import { createServer, type RequestListener, type Server } from 'node:http';

/** How long a client may take over each part of a request, and how many connections it may hold. */
export interface HttpServerOptions {
  /** Time to receive a request's headers, from its first byte. */
  headersTimeoutMs: number;
  /** Time to receive a whole request, headers and body. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open for the next request. */
  keepAliveTimeoutMs: number;
  /** Connections one client address may hold open at once; more are closed on arrival. 0: no cap. */
  maxConnectionsPerClient: number;
}

export const DEFAULT_HTTP_SERVER_OPTIONS: HttpServerOptions = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnectionsPerClient: 256,
};

/**
 * How often node:http looks for requests past their deadline (its default, 30 s, lets a 10 s deadline
 * run to 40 s): a quarter of the shortest deadline, between 100 ms and 1 s.
 */
const checkingIntervalFor = (options: HttpServerOptions) =>
  Math.max(100, Math.min(1_000, Math.floor(Math.min(options.headersTimeoutMs, options.requestTimeoutMs) / 4)));

/** Closes a client's connections beyond `limit` as they arrive, counting by remote address. */
function capConnectionsPerClient(server: Server, limit: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const client = socket.remoteAddress ?? '';
    const count = (open.get(client) ?? 0) + 1;
    if (count > limit) {
      socket.destroy();
      return;
    }
    open.set(client, count);
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left === 0) open.delete(client);
      else open.set(client, left);
    });
  });
}

/**
 * The gateway's node:http server, with deadlines set on purpose rather than left to Node's defaults: a
 * request whose headers or body stall is answered 408 and its connection closed within its deadline,
 * instead of holding the connection for minutes (Node: 60 s for headers, 300 s for a body, each checked
 * only every 30 s).
 */
export function createHttpServer(handler: RequestListener, options: HttpServerOptions = DEFAULT_HTTP_SERVER_OPTIONS): Server {
  const server = createServer(
    {
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      connectionsCheckingInterval: checkingIntervalFor(options),
    },
    handler,
  );
  if (options.maxConnectionsPerClient > 0) capConnectionsPerClient(server, options.maxConnectionsPerClient);
  return server;
}
