import { chmod, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { EmbeddedGate } from './embedded-gate.js';

/**
 * The socket's name in DATA_DIR is the one PostgreSQL clients look for in a folder: `pg` with
 * `host: DATA_DIR`, or `psql -h DATA_DIR`, finds it.
 */
export const EMBEDDED_SOCKET_PORT = 5432;

export function embeddedSocketPath(dataDir: string): string {
  return path.join(dataDir, `.s.PGSQL.${EMBEDDED_SOCKET_PORT}`);
}

/** Linux's limit for a socket path (`sun_path` less its terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * How long a client may hold the database without sending anything while it is inside a transaction (or
 * an unfinished extended-protocol exchange) before it is disconnected and its transaction rolled back:
 * meanwhile every request of the gateway waits.
 */
export const IDLE_HOLD_TIMEOUT_MS = 5_000;

/** A message larger than this is a broken or hostile client, not a CLI. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const READY_FOR_QUERY = 0x5a; // 'Z'
const TERMINATE = 0x58; // 'X'
const IDLE = 0x49; // 'I': ReadyForQuery outside any transaction
const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);

export interface EmbeddedServer {
  path: string;
  close(): Promise<void>;
}

export class EmbeddedServerError extends Error {
  override name = 'EmbeddedServerError';
}

/**
 * Serves the embedded database to other processes of the same user (the CLI) on a Unix socket in
 * `dataDir`, mode 0600, beside the owner's own use of it. Every client takes `gate` at its first
 * message and gives it back only at a ReadyForQuery that says the session is idle, so that its
 * transactions and extended-protocol exchanges never interleave with the owner's, or with another
 * client's.
 */
export async function serveEmbeddedDatabase(
  client: PGlite,
  gate: EmbeddedGate,
  dataDir: string,
  onError: (error: unknown) => void,
): Promise<EmbeddedServer> {
  const socketPath = embeddedSocketPath(dataDir);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new EmbeddedServerError(
      `${socketPath} is longer than a Unix socket path may be (${MAX_SOCKET_PATH_BYTES} bytes); use a shorter DATA_DIR.`,
    );
  }
  // The caller holds the data folder's lock: a socket file left here is a killed owner's.
  await rm(socketPath, { force: true });
  const sessions = new Set<Session>();
  const server = net.createServer((socket) => {
    const session = new Session(socket, client, gate, onError, () => sessions.delete(session));
    sessions.add(session);
  });
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', resolve);
  });
  // Created 0600 from the start (listen binds synchronously, under this umask), so that no other user
  // can connect even for a moment.
  const umask = process.umask(0o177);
  try {
    server.listen(socketPath);
  } finally {
    process.umask(umask);
  }
  await listening;
  await chmod(socketPath, 0o600);
  let closing: Promise<void> | undefined;
  return {
    path: socketPath,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.all([...sessions].map((session) => session.end()));
        await closed;
        await rm(socketPath, { force: true });
      })();
      return closing;
    },
  };
}

/** One client connection: frames its messages, runs them in order, and holds the gate between them while it must. */
class Session {
  #buffer: Buffer = Buffer.alloc(0);
  #started = false;
  #ended = false;
  #release: (() => void) | null = null;
  #queue: Promise<void> = Promise.resolve();
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #output = new ReadyForQueryReader();

  constructor(
    private readonly socket: net.Socket,
    private readonly client: PGlite,
    private readonly gate: EmbeddedGate,
    private readonly onError: (error: unknown) => void,
    private readonly onEnded: () => void,
  ) {
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', () => void this.end());
    socket.on('close', () => void this.end());
  }

  /** Disconnects the client; a transaction it left open is rolled back and the gate given back. */
  end(): Promise<void> {
    if (!this.#ended) {
      this.#ended = true;
      clearTimeout(this.#idleTimer);
      this.socket.destroy();
      this.#queue = this.#queue
        .then(() => this.#giveBack())
        .catch(this.onError)
        .finally(this.onEnded);
    }
    return this.#queue;
  }

  #receive(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const message = this.#nextMessage();
      if (message === undefined) return;
      if (message === null) {
        void this.end();
        return;
      }
      this.#queue = this.#queue.then(() => this.#run(message));
    }
  }

  /** The next complete message, undefined while it is incomplete, null for a protocol violation. */
  #nextMessage(): Buffer | null | undefined {
    const headerBytes = this.#started ? 5 : 8;
    if (this.#buffer.length < headerBytes) return undefined;
    const length = this.#started ? 1 + this.#buffer.readInt32BE(1) : this.#buffer.readInt32BE(0);
    if (length < headerBytes - (this.#started ? 1 : 0) || length > MAX_MESSAGE_BYTES) return null;
    if (this.#buffer.length < length) return undefined;
    const message = this.#buffer.subarray(0, length);
    this.#buffer = this.#buffer.subarray(length);
    if (!this.#started) {
      const code = message.readInt32BE(4);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        // Neither is offered on a local socket; the client goes on with a plain startup.
        this.socket.write('N');
        return this.#nextMessage();
      }
      this.#started = true;
    }
    return message;
  }

  async #run(message: Buffer): Promise<void> {
    if (this.#ended) return;
    if (this.#started && message[0] === TERMINATE && message.length === 5) {
      void this.end();
      return;
    }
    clearTimeout(this.#idleTimer);
    this.#release ??= await this.gate.acquire();
    if (this.#ended) return;
    try {
      // execProtocolRaw (not the streaming variant) leaves no callback behind on the shared client.
      const output = await this.client.runExclusive(() => this.client.execProtocolRaw(new Uint8Array(message)));
      const status = this.#output.lastStatus(output);
      if (output.length > 0) this.socket.write(Buffer.from(output));
      if (status === IDLE) {
        this.#release();
        this.#release = null;
      } else {
        this.#idleTimer = setTimeout(() => void this.end(), IDLE_HOLD_TIMEOUT_MS);
      }
    } catch (error) {
      this.onError(error);
      void this.end();
    }
  }

  /** Leaves the shared session idle (an unfinished exchange synced, a transaction rolled back) and gives the gate back. */
  async #giveBack(): Promise<void> {
    const release = this.#release;
    if (!release) return;
    this.#release = null;
    try {
      await this.client.runExclusive(() => this.client.execProtocolRaw(SYNC));
      if (this.client.isInTransaction()) await this.client.exec('rollback');
    } finally {
      release();
    }
  }
}

/**
 * Reads the backend's messages as they stream out, across chunk boundaries, for the status byte of the
 * last ReadyForQuery.
 */
class ReadyForQueryReader {
  #header = Buffer.alloc(5);
  #headerFill = 0;
  #remaining = 0;

  /** The status of the last ReadyForQuery in `chunk`, or null when it has none. */
  lastStatus(chunk: Uint8Array): number | null {
    let status: number | null = null;
    let index = 0;
    while (index < chunk.length) {
      if (this.#headerFill < 5) {
        this.#header[this.#headerFill++] = chunk[index++] as number;
        if (this.#headerFill === 5) {
          this.#remaining = this.#header.readInt32BE(1) - 4;
          if (this.#remaining <= 0) this.#headerFill = 0;
        }
        continue;
      }
      const take = Math.min(this.#remaining, chunk.length - index);
      // A ReadyForQuery's body is its one status byte.
      if (this.#header[0] === READY_FOR_QUERY) status = chunk[index + take - 1] as number;
      index += take;
      this.#remaining -= take;
      if (this.#remaining === 0) this.#headerFill = 0;
    }
    return status;
  }
}
