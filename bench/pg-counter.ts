import net from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that counts the statements its clients run, by reading the
 * frontend side of the wire protocol: every simple `Query` ('Q') and every extended-protocol `Execute`
 * ('E') is one statement, whether or not the driver prepared it earlier. `BEGIN` and `COMMIT` count too.
 *
 * `pg_stat_statements` would be the usual tool, but it needs `shared_preload_libraries` and a server
 * restart; this works on any server and with any client, and costs nothing when it is not in the path.
 * The harness puts it only in front of the instances it uses for counting, never the timed ones.
 */
export interface StatementCounter {
  port: number;
  /** Statements run since start. */
  readonly count: number;
  /** Text of statements seen since the last `reset()` (parsed or simple queries), for the report. */
  readonly texts: string[];
  resetTexts(): void;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

export async function startStatementCounter(target: { host: string; port: number }): Promise<StatementCounter> {
  let count = 0;
  let texts: string[] = [];
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let buffer: Buffer = Buffer.alloc(0);
    // The first frontend message (startup, SSL or GSS request) carries no type byte.
    let typed = false;
    // Statement texts by prepared-statement name on this connection, and the one bound last.
    const statements = new Map<string, string>();
    let bound = '';

    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!typed) {
          if (buffer.length < 8) break;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) break;
          const code = buffer.readInt32BE(4);
          if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) typed = true;
          buffer = buffer.subarray(length);
          continue;
        }
        if (buffer.length < 5) break;
        const length = buffer.readInt32BE(1);
        if (buffer.length < length + 1) break;
        const type = String.fromCharCode(buffer[0] as number);
        if (type === 'Q') {
          count += 1;
          texts.push(buffer.toString('utf8', 5, length).replace(/\0$/, ''));
        } else if (type === 'P') {
          // Parse: statement name\0 query text\0 ... (a named statement is parsed once per connection)
          const nameEnd = buffer.indexOf(0, 5);
          const textEnd = buffer.indexOf(0, nameEnd + 1);
          statements.set(buffer.toString('utf8', 5, nameEnd), buffer.toString('utf8', nameEnd + 1, textEnd));
        } else if (type === 'B') {
          // Bind: portal name\0 statement name\0 ...
          const portalEnd = buffer.indexOf(0, 5);
          bound = statements.get(buffer.toString('utf8', portalEnd + 1, buffer.indexOf(0, portalEnd + 1))) ?? '(unknown statement)';
        } else if (type === 'E') {
          count += 1;
          texts.push(bound);
        }
        buffer = buffer.subarray(length + 1);
      }
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get count() {
      return count;
    },
    get texts() {
      return texts;
    },
    resetTexts() {
      texts = [];
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
