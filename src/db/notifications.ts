import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { EmbeddedGate } from './embedded-gate.js';

/**
 * PostgreSQL notifications (LISTEN/NOTIFY) of the gateway's database, heard in this process. A
 * notification is sent when the transaction that raised it commits; one raised several times in a
 * transaction with the same payload arrives once.
 */
export interface DatabaseNotifications {
  /**
   * Calls `onNotify` with the payload of every notification on `channel` from now on, and with `null`
   * when some may have been missed (the connection listening was lost and is back). Resolves once
   * listening; the function it returns stops.
   */
  listen(channel: string, onNotify: (payload: string | null) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

type Listener = (payload: string | null) => void;

/** Listeners per channel, shared by both kinds of database. */
class Channels {
  readonly #listeners = new Map<string, Set<Listener>>();

  add(channel: string, listener: Listener): boolean {
    const set = this.#listeners.get(channel) ?? new Set();
    const first = set.size === 0;
    set.add(listener);
    this.#listeners.set(channel, set);
    return first;
  }

  /** Whether that was the channel's last listener. */
  remove(channel: string, listener: Listener): boolean {
    const set = this.#listeners.get(channel);
    if (!set?.delete(listener)) return false;
    if (set.size > 0) return false;
    this.#listeners.delete(channel);
    return true;
  }

  names(): string[] {
    return [...this.#listeners.keys()];
  }

  deliver(channel: string, payload: string | null): void {
    for (const listener of this.#listeners.get(channel) ?? []) listener(payload);
  }

  deliverAll(payload: null): void {
    for (const channel of this.#listeners.keys()) this.deliver(channel, payload);
  }
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * PostgreSQL: one connection of its own, opened on first use, that LISTENs on every channel asked for;
 * lost, it reconnects (after 1 s, then up to 30 s apart) and tells every listener that it may have missed some.
 */
export function postgresNotifications(connectionString: string, onError: (error: unknown) => void = () => {}): DatabaseNotifications {
  const channels = new Channels();
  let client: pg.Client | null = null;
  let connecting: Promise<pg.Client> | null = null;
  let closed = false;
  let retryMs = 1_000;
  let retryTimer: NodeJS.Timeout | undefined;

  const connect = (): Promise<pg.Client> => {
    connecting ??= (async () => {
      const next = new pg.Client({ connectionString });
      next.on('notification', (message) => channels.deliver(message.channel, message.payload ?? ''));
      next.on('error', (error) => {
        onError(error);
        lost(next);
      });
      next.on('end', () => lost(next));
      try {
        await next.connect();
        for (const channel of channels.names()) await next.query(`listen ${quoteIdent(channel)}`);
      } catch (error) {
        void next.end().catch(() => {});
        connecting = null;
        throw error;
      }
      client = next;
      retryMs = 1_000;
      return next;
    })();
    return connecting;
  };

  const lost = (which: pg.Client) => {
    if (client !== which || closed) return;
    client = null;
    connecting = null;
    const retry = () => {
      if (closed || channels.names().length === 0) return;
      connect().then(
        () => channels.deliverAll(null),
        (error: unknown) => {
          onError(error);
          retryMs = Math.min(retryMs * 2, 30_000);
          retryTimer = setTimeout(retry, retryMs);
          retryTimer.unref();
        },
      );
    };
    retryTimer = setTimeout(retry, retryMs);
    retryTimer.unref();
  };

  return {
    async listen(channel, onNotify) {
      if (closed) throw new Error('notifications are closed');
      const first = channels.add(channel, onNotify);
      try {
        const connected = await connect();
        if (first) await connected.query(`listen ${quoteIdent(channel)}`);
      } catch (error) {
        channels.remove(channel, onNotify);
        throw error;
      }
      return async () => {
        if (channels.remove(channel, onNotify) && client) await client.query(`unlisten ${quoteIdent(channel)}`).catch(() => {});
      };
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      const current = client ?? (connecting ? await connecting.catch(() => null) : null);
      client = null;
      await current?.end().catch(() => {});
    },
  };
}

/**
 * The embedded database: its own notifications, heard in the process that holds it, for transactions
 * this process runs (through its Kysely connection). Those of socket clients (the CLI, a worker process)
 * are not heard: whoever listens also polls. `gate` keeps LISTEN out of another party's transaction.
 */
export function embeddedNotifications(client: PGlite, gate?: EmbeddedGate): DatabaseNotifications {
  const channels = new Channels();
  const stops = new Map<string, () => Promise<void>>();
  const exclusive = async <T>(work: () => Promise<T>): Promise<T> => {
    const release = gate ? await gate.acquire() : () => {};
    try {
      return await work();
    } finally {
      release();
    }
  };
  return {
    async listen(channel, onNotify) {
      if (channels.add(channel, onNotify)) {
        // Delivered after the statement that committed, from inside the engine: hand it on outside of it.
        const stop = await exclusive(() => client.listen(channel, (payload) => setImmediate(() => channels.deliver(channel, payload))));
        stops.set(channel, stop);
      }
      return async () => {
        if (!channels.remove(channel, onNotify)) return;
        const stop = stops.get(channel);
        stops.delete(channel);
        if (stop && !client.closed) await exclusive(() => stop()).catch(() => {});
      };
    },
    async close() {
      stops.clear();
    },
  };
}
