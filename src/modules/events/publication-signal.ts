import { Redis } from 'ioredis';
import type { DatabaseNotifications } from '../../db/notifications.js';
import { EVENTS_PUBLISHED_CHANNEL } from './event.model.js';

/**
 * How subscribers on every process learn that events were published: the last position, or `null` for
 * "look, you may have missed some". They read the events themselves, by position, from the database.
 */
export interface PublicationSignal {
  /** Tells every process that positions up to `position` are committed (called after the commit). */
  announce(position: number): void;
  /** Calls `onPosition` for every announcement from now on; resolves once listening; returns a stop. */
  watch(onPosition: (position: number | null) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

const toPosition = (payload: string | null) => {
  const position = payload === null ? Number.NaN : Number.parseInt(payload, 10);
  return Number.isSafeInteger(position) ? position : null;
};

/**
 * Through the database: the publication transaction itself notifies `igw_events_published` at commit,
 * so announcing is nothing more. Without notifications (the embedded database through another
 * process's socket) nothing is heard, and watchers poll.
 */
export function databaseSignal(notifications: DatabaseNotifications | undefined): PublicationSignal {
  return {
    announce() {},
    async watch(onPosition) {
      if (!notifications) return async () => {};
      return notifications.listen(EVENTS_PUBLISHED_CHANNEL, (payload) => onPosition(toPosition(payload)));
    },
    async close() {},
  };
}

const REDIS_CHANNEL = 'igw:events:published';

/** Through Redis pub/sub (REDIS_URL): one connection to publish, one to subscribe, opened on first use. */
export function redisSignal(url: string, onError: (error: unknown) => void = () => {}): PublicationSignal {
  let publisher: Redis | null = null;
  let subscriber: Redis | null = null;
  const watchers = new Set<(position: number | null) => void>();
  const open = () => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', onError);
    return client;
  };
  return {
    announce(position) {
      publisher ??= open();
      publisher.publish(REDIS_CHANNEL, String(position)).catch(onError);
    },
    async watch(onPosition) {
      if (!subscriber) {
        const client = open();
        subscriber = client;
        let readyBefore = false;
        client.on('message', (_channel: string, message: string) => {
          for (const watcher of watchers) watcher(toPosition(message));
        });
        // Subscribed again after a lost connection: announcements meanwhile are lost.
        client.on('ready', () => {
          if (readyBefore) for (const watcher of watchers) watcher(null);
          readyBefore = true;
        });
        await client.connect();
        await client.subscribe(REDIS_CHANNEL);
      }
      watchers.add(onPosition);
      return async () => {
        watchers.delete(onPosition);
      };
    },
    async close() {
      watchers.clear();
      await Promise.all([publisher, subscriber].map((client) => client?.quit().catch(() => client.disconnect())));
      publisher = null;
      subscriber = null;
    },
  };
}
