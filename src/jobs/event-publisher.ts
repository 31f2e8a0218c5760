import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { DatabaseNotifications } from '../db/notifications.js';
import type { Logger } from '../logger.js';
import { EVENTS_APPENDED_CHANNEL, type EventConsumer } from '../modules/events/event.model.js';
import { publishAll } from '../modules/events/publication.js';
import type { PublicationSignal } from '../modules/events/publication-signal.js';

export interface EventPublisherOptions {
  db: Kysely<Database>;
  consumers: readonly EventConsumer[];
  /** Wakes the publisher as soon as a transaction with events commits; without it, only the poll does. */
  notifications?: DatabaseNotifications | undefined;
  /** Tells subscribers of every process what was published (besides the database's own notification). */
  signal: PublicationSignal;
  /** How often it looks for unpublished events anyway (events of other processes on the embedded database, a lost notification). */
  pollIntervalMs: number;
  logger: Logger;
}

export interface EventPublisher {
  /** Publishes what is pending now (and again if more arrives meanwhile). */
  wake(): void;
  /** Stops waking and waits for a publication under way. */
  stop(): Promise<void>;
}

/**
 * The engine's publication loop, in every worker process: woken by the `events` trigger's notification
 * at commit, and by a poll. Processes take turns through the publication lock, so a wake that finds
 * another publishing waits for it and then publishes what it left. A failed publication (a consumer
 * threw) is retried after a growing delay, up to a minute.
 */
export async function startEventPublisher(options: EventPublisherOptions): Promise<EventPublisher> {
  const { db, consumers, signal, logger } = options;
  let stopped = false;
  let again = false;
  let running: Promise<void> | null = null;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  const run = async () => {
    while (again && !stopped) {
      again = false;
      try {
        const last = await publishAll(db, consumers);
        failures = 0;
        if (last !== null) signal.announce(last);
      } catch (error) {
        failures += 1;
        const delay = Math.min(60_000, 500 * 2 ** Math.min(failures, 7));
        logger.error({ err: error, failures, retryInMs: delay }, 'publishing events failed; retrying');
        clearTimeout(retryTimer);
        retryTimer = setTimeout(wake, delay);
        retryTimer.unref();
        return;
      }
    }
  };
  function wake() {
    if (stopped) return;
    again = true;
    running ??= run().finally(() => {
      running = null;
      if (again && !stopped && failures === 0) wake();
    });
  }

  const unlisten = options.notifications
    ? await options.notifications
        .listen(EVENTS_APPENDED_CHANNEL, () => wake())
        .catch((error: unknown) => {
          logger.warn({ err: error }, 'cannot listen for new events; publishing them on the poll');
          return async () => {};
        })
    : async () => {};
  const poll = setInterval(() => {
    if (failures === 0) wake();
  }, options.pollIntervalMs);
  poll.unref();
  wake();

  return {
    wake,
    async stop() {
      stopped = true;
      clearInterval(poll);
      clearTimeout(retryTimer);
      await unlisten();
      await running;
    },
  };
}
