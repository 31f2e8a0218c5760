/** Events, from the environment (src/config.ts). */
export interface EventsConfig {
  /** Days an event is kept in the audit log, and a subscriber may resume from (`EVENT_RETENTION_DAYS`). */
  retentionDays: number;
  /** Fan-out of published positions to every process through Redis pub/sub (`REDIS_URL`); PostgreSQL NOTIFY when absent. */
  redisUrl: string | undefined;
  /** Live subscriptions one API key may hold open at once, over all processes (`SUBSCRIPTIONS_MAX_PER_KEY`); 0: none. */
  maxSubscriptionsPerKey: number;
}

export const DEFAULT_EVENTS_CONFIG: EventsConfig = {
  retentionDays: 90,
  redisUrl: undefined,
  maxSubscriptionsPerKey: 10,
};
