import type { Server } from 'node:http';
import { createHttpServer, DEFAULT_HTTP_SERVER_OPTIONS, type HttpServerOptions } from '../../src/http/node-server.js';
import type { Gateway } from '../../src/server.js';

export interface GatewayPort {
  server: Server;
  port: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  close(): Promise<void>;
}

/** A gateway on a real loopback port, behind the same node:http server `npm start` runs. */
export async function serveOnLoopback(yoga: Gateway, options: Partial<HttpServerOptions> = {}): Promise<GatewayPort> {
  const server = createHttpServer(yoga, { ...DEFAULT_HTTP_SERVER_OPTIONS, ...options });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
