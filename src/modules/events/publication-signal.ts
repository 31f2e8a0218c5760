import type { DatabaseNotifications } from '../../db/notifications.js';
import type { Logger } from '../../logger.js';
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

/** The Redis channel positions are announced on. */
export const REDIS_EVENTS_CHANNEL = 'igw:events:published';

/** Redis (REDIS_URL) could not be reached when the gateway started. */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
  constructor(cause: unknown) {
    // The cause names the address (never the URL, which may hold a password).
    super(
      `Redis (REDIS_URL) cannot be reached: ${(cause instanceof Error ? cause.message : String(cause)).replace(/\.$/, '')}. ` +
        'Events fan out through it to every process: start Redis, or unset REDIS_URL to use PostgreSQL LISTEN/NOTIFY.',
      { cause },
    );
  }
}

export interface RedisSignalOptions {
  /** Told once when the connection is lost and once when it is back, not on every reconnection attempt. */
  onLost?: (error: unknown) => void;
  onBack?: () => void;
}

/** What a process logs of its Redis connection for events: once when it is lost, once when it is back. */
export function redisLog(logger: Logger): RedisSignalOptions {
  return {
    onLost: (error) => logger.warn({ err: error }, 'events: Redis lost; subscribers are served by polling until it is back'),
    onBack: () => logger.info('events: Redis is back'),
  };
}

/**
 * Through Redis pub/sub (REDIS_URL): one connection publishes, one listens, both connected (and the
 * listener subscribed) before this resolves, so that a Redis that cannot be reached stops the process at
 * start (RedisUnavailableError) instead of leaving subscribers on the poll. Afterwards a lost connection
 * is retried without end; meanwhile announcements are dropped (the publisher's commands fail at once
 * rather than queue), subscribers are served by the feed's poll, and the listener tells its watchers
 * `null` once it is subscribed again, so that they read what they missed.
 *
 * Not `@graphql-yoga/redis-event-target`: it subscribes without waiting for, or handling, Redis's answer
 * (a rejected subscription is an unhandled rejection), so a process could not know it hears announcements.
 */
export async function openRedisSignal(url: string, options: RedisSignalOptions = {}): Promise<PublicationSignal> {
  // Loaded only where REDIS_URL is set: a gateway without Redis does not hold the client's modules.
  const { Redis } = await import('ioredis');
  const watchers = new Set<(position: number | null) => void>();
  const open = (offlineQueue: boolean) => new Redis(url, { lazyConnect: true, enableOfflineQueue: offlineQueue, maxRetriesPerRequest: 1 });
  const publisher = open(false);
  const subscriber = open(true);
  let lost = false;
  // The first failure says why (ECONNREFUSED, NOAUTH); connect() itself rejects with "Connection is closed".
  let firstError: unknown = null;
  let opened = false;
  const onError = (error: unknown) => {
    firstError ??= error;
    if (lost || !opened) return;
    lost = true;
    options.onLost?.(error);
  };
  publisher.on('error', onError);
  subscriber.on('error', onError);
  subscriber.on('message', (_channel: string, message: string) => {
    for (const watcher of watchers) watcher(toPosition(message));
  });
  try {
    await Promise.all([publisher.connect(), subscriber.connect()]);
    await subscriber.subscribe(REDIS_EVENTS_CHANNEL);
  } catch (error) {
    publisher.disconnect();
    subscriber.disconnect();
    throw new RedisUnavailableError(firstError ?? error);
  }
  opened = true;
  // Subscribed again after a lost connection (ioredis resubscribes by itself): announcements meanwhile are lost.
  subscriber.on('ready', () => {
    if (lost && publisher.status === 'ready') {
      lost = false;
      options.onBack?.();
    }
    for (const watcher of watchers) watcher(null);
  });
  publisher.on('ready', () => {
    if (lost && subscriber.status === 'ready') {
      lost = false;
      options.onBack?.();
    }
  });
  return {
    announce(position) {
      publisher.publish(REDIS_EVENTS_CHANNEL, String(position)).catch(onError);
    },
    async watch(onPosition) {
      watchers.add(onPosition);
      return async () => {
        watchers.delete(onPosition);
      };
    },
    async close() {
      watchers.clear();
      await Promise.all([publisher, subscriber].map((client) => client.quit().catch(() => client.disconnect())));
    },
  };
}
