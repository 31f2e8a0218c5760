import type { Viewer } from '../api-key/viewer.js';
import type { EventFeed } from './event-feed.js';
import { visibleTo } from './event-log.js';
import type { PublishedEvent } from './event.model.js';
import type { SubscriptionSlots } from './subscription-slots.js';

/** A gateway process's live event streams: its feed, the slots that cap them per key, and the cap. */
export interface EventStreams {
  feed: EventFeed;
  slots: SubscriptionSlots;
  /** Live subscriptions one API key may hold at once, over all processes (SUBSCRIPTIONS_MAX_PER_KEY). */
  maxPerKey: number;
}

/** The key (or, later, another principal) already holds as many live subscriptions as it may. */
export class SubscriptionLimitError extends Error {
  override name = 'SubscriptionLimitError';
  constructor(readonly max: number) {
    super(
      max === 0
        ? 'Subscriptions are turned off on this gateway.'
        : `This API key already holds ${max} live subscriptions, the most it may; end one first.`,
    );
  }
}

/** Whom a subscription counts against. */
function principalOf(viewer: Viewer): string {
  return `api_key:${viewer.apiKey.id}`;
}

/**
 * Opens a live stream of the viewer's organization's published events that `accepts` wants, after
 * `after` (a position, to resume) or from now on, within the viewer's per-key cap. The slot is given
 * back when the stream ends, whoever ends it.
 */
export async function openEventStream(
  streams: EventStreams,
  viewer: Viewer,
  accepts: (event: PublishedEvent) => boolean,
  after: number | null,
): Promise<AsyncIterableIterator<PublishedEvent>> {
  if (streams.maxPerKey === 0) throw new SubscriptionLimitError(0);
  const slot = await streams.slots.claim(viewer.organization.id, principalOf(viewer), streams.maxPerKey);
  if (!slot) throw new SubscriptionLimitError(streams.maxPerKey);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    void streams.slots.release(slot).catch(() => {});
  };
  let inner: AsyncIterableIterator<PublishedEvent>;
  try {
    inner = await streams.feed.subscribe({
      organizationId: viewer.organization.id,
      accepts: (event) => visibleTo(viewer, event) && accepts(event),
      after,
    });
  } catch (error) {
    release();
    throw error;
  }
  const stream: AsyncIterableIterator<PublishedEvent> = {
    async next() {
      try {
        const result = await inner.next();
        if (result.done) release();
        return result;
      } catch (error) {
        release();
        throw error;
      }
    },
    async return() {
      release();
      return (await inner.return?.()) ?? { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}
