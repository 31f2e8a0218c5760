import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import type { PublishedEvent } from './event.model.js';
import { lastPublishedPosition, organizationEventsAfter, publishedAfter, purgedThroughPosition } from './event.repository.js';
import type { PublicationSignal } from './publication-signal.js';

/** Events read at once, by the feed and by a subscriber catching up. */
const READ_BATCH = 500;
/** Events waiting for a subscriber that does not read them: past this, it is ended (and may resume by position). */
const MAX_PENDING = 1_000;

export class SubscriberTooSlowError extends Error {
  override name = 'SubscriberTooSlowError';
  constructor() {
    super('The subscriber fell too far behind and was ended; resume from the last event received (Last-Event-ID).');
  }
}

/**
 * A subscriber asked to resume from a position after which the retention purge has deleted events
 * (EVENT_RETENTION_DAYS): it would be served a gap, so it is refused and told to start afresh.
 */
export class ResumeExpiredError extends Error {
  override name = 'ResumeExpiredError';
  constructor(
    readonly after: number,
    /** The highest position deleted: resuming from it or later is possible. */
    readonly purgedThrough: number,
  ) {
    super(
      `Events after position ${after} are past the retention (EVENT_RETENTION_DAYS) and no longer kept: read the current ` +
        'state (the integrations, the `events` audit log), then subscribe again without Last-Event-ID or `after`.',
    );
  }
}

/** What a subscription streams. */
export interface FeedSubscription {
  organizationId: string;
  /** Whether this subscriber wants the event (its filter; the organization is checked already). */
  accepts(event: PublishedEvent): boolean;
  /** Resume after this position (Last-Event-ID); null: from now on. */
  after: number | null;
}

/** A subscriber's events, in position order, each once. */
class Subscriber implements AsyncIterableIterator<PublishedEvent> {
  readonly #queue: PublishedEvent[] = [];
  #waiting: ((result: IteratorResult<PublishedEvent>) => void) | null = null;
  #failed: ((error: unknown) => void) | null = null;
  #ended = false;
  #error: unknown = null;
  /** Live events held while the subscriber catches up from the database. */
  held: PublishedEvent[] | null = null;

  constructor(
    readonly spec: FeedSubscription,
    /** The last position delivered (or skipped as before the start). */
    public after: number,
    private readonly onEnd: (subscriber: Subscriber) => void,
  ) {}

  offer(event: PublishedEvent): void {
    if (this.#ended || event.position <= this.after) return;
    if (this.held) {
      this.held.push(event);
      return;
    }
    this.after = event.position;
    if (event.organizationId !== this.spec.organizationId || !this.spec.accepts(event)) return;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = null;
      this.#failed = null;
      resolve({ value: event, done: false });
      return;
    }
    if (this.#queue.length >= MAX_PENDING) {
      this.end(new SubscriberTooSlowError());
      return;
    }
    this.#queue.push(event);
  }

  /** Stops holding live events, offering those held that the catch-up did not deliver. */
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const event of held) this.offer(event);
  }

  end(error: unknown = null): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    this.onEnd(this);
    if (this.#waiting && error) this.#failed?.(error);
    else this.#waiting?.({ value: undefined, done: true });
    this.#waiting = null;
    this.#failed = null;
  }

  get ended(): boolean {
    return this.#ended;
  }

  next(): Promise<IteratorResult<PublishedEvent>> {
    const event = this.#queue.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.#ended) return this.#error ? Promise.reject(this.#error) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#failed = reject;
    });
  }

  return(): Promise<IteratorResult<PublishedEvent>> {
    this.#queue.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<PublishedEvent> {
    return this;
  }
}

export interface EventFeedOptions {
  db: Kysely<Database>;
  signal: PublicationSignal;
  /** How often it looks for published events when nothing told it (another process's embedded database, a lost notification). */
  pollIntervalMs: number;
  logger: Logger;
}

/**
 * This process's subscribers and the one reader that serves them all: told by the publication signal
 * (or its poll) that positions were published, it reads the events after the last position it read,
 * once for every subscriber, and offers them in position order. A subscriber resuming from an earlier
 * position first reads its organization's events from the database, holding live ones meanwhile.
 */
export class EventFeed {
  readonly #subscribers = new Set<Subscriber>();
  readonly #options: EventFeedOptions;
  #cursor: number | null = null;
  #starting: Promise<void> | null = null;
  #stopWatching: (() => Promise<void>) | null = null;
  #poll: NodeJS.Timeout | undefined;
  #reading: Promise<void> | null = null;
  #again = false;
  #closed = false;

  constructor(options: EventFeedOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#subscribers.size;
  }

  /** Streams the events a subscription wants; ends with the feed, or when the caller returns. */
  async subscribe(spec: FeedSubscription): Promise<AsyncIterableIterator<PublishedEvent>> {
    if (this.#closed) throw new Error('the event feed is closed');
    await this.#start();
    // "From now on" is from the last position published, which the feed may not have read yet (its
    // notification or poll is on its way): an event committed before the subscription is not its own.
    const published = spec.after === null ? await lastPublishedPosition(this.#options.db) : 0;
    const now = Math.max(this.#cursor ?? 0, published);
    const resuming = spec.after !== null && spec.after < now;
    if (resuming) await this.#assertKept(spec.after as number);
    const subscriber = new Subscriber(spec, spec.after ?? now, (ended) => this.#subscribers.delete(ended));
    this.#subscribers.add(subscriber);
    if (resuming) {
      subscriber.held = [];
      void this.#catchUp(subscriber).catch((error: unknown) => subscriber.end(error));
    }
    return subscriber;
  }

  /** Refuses to resume after `after` when the retention purge has deleted events after it. */
  async #assertKept(after: number): Promise<void> {
    const purgedThrough = await purgedThroughPosition(this.#options.db);
    if (after < purgedThrough) throw new ResumeExpiredError(after, purgedThrough);
  }

  /** Reads the subscriber's organization's events after its position from the database, then lets live ones through. */
  async #catchUp(subscriber: Subscriber): Promise<void> {
    const from = subscriber.after;
    for (let first = true; ; first = false) {
      const events = await organizationEventsAfter(this.#options.db, subscriber.spec.organizationId, subscriber.after, READ_BATCH);
      // A purge that committed before this read has raised its mark: checked again, after the read, for one
      // that ran since the check at subscription.
      if (first) await this.#assertKept(from);
      if (subscriber.ended) return;
      const held = subscriber.held;
      subscriber.held = null;
      for (const event of events) subscriber.offer(event);
      subscriber.held = held;
      if (events.length < READ_BATCH) break;
    }
    subscriber.release();
  }

  #start(): Promise<void> {
    this.#starting ??= (async () => {
      this.#cursor = await lastPublishedPosition(this.#options.db);
      this.#stopWatching = await this.#options.signal
        .watch((position) => {
          if (position === null || this.#cursor === null || position > this.#cursor) this.#wake();
        })
        .catch((error: unknown) => {
          this.#options.logger.warn({ err: error }, 'events: cannot hear publications; subscribers are served by polling');
          return null;
        });
      this.#poll = setInterval(() => {
        if (this.#subscribers.size > 0) this.#wake();
      }, this.#options.pollIntervalMs);
      this.#poll.unref();
    })();
    return this.#starting;
  }

  #wake(): void {
    if (this.#closed) return;
    this.#again = true;
    this.#reading ??= this.#read().finally(() => {
      this.#reading = null;
    });
  }

  async #read(): Promise<void> {
    while (this.#again && !this.#closed) {
      this.#again = false;
      try {
        for (;;) {
          const events = await publishedAfter(this.#options.db, this.#cursor ?? 0, READ_BATCH);
          for (const event of events) {
            this.#cursor = event.position;
            for (const subscriber of this.#subscribers) subscriber.offer(event);
          }
          if (events.length < READ_BATCH) break;
        }
      } catch (error) {
        this.#options.logger.warn({ err: error }, 'events: reading published events failed; retrying on the next poll');
        return;
      }
    }
  }

  /** Ends every subscription (their streams complete) and stops listening. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#poll);
    for (const subscriber of [...this.#subscribers]) subscriber.end();
    await this.#starting?.catch(() => {});
    await this.#stopWatching?.();
    await this.#reading;
  }
}
