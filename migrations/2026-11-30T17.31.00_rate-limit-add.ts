import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // Adds points a process has already admitted to their budgets, unconditionally (the requests ran), in
  // one statement for a whole batch of budgets: a process counts most requests in memory and flushes
  // them every few hundred milliseconds. The window rules are rate_limit_charge's: a budget whose window
  // has ended starts a new one with these points. Rows are written in key order, as rate_limit_charge
  // locks them, so that batches and charges queue rather than deadlock. Keys of one call are distinct.
  // Returns each budget's points in its window after the addition and the milliseconds until it ends.
  await sql`
    create function rate_limit_add(add_keys text[], add_points integer[], add_window_seconds integer[])
    returns table (key text, points integer, ms_left integer)
    language sql volatile
    as $$
      insert into rate_limit_buckets as bucket (key, points, window_ends_at)
      select a.key, least(greatest(a.points, 0), 2000000000), now() + make_interval(secs => a.window_seconds)
      from unnest(add_keys, add_points, add_window_seconds) as a (key, points, window_seconds)
      order by a.key
      on conflict (key) do update set
        points = case when bucket.window_ends_at <= now() then excluded.points
                      else least(bucket.points::bigint + excluded.points, 2000000000)::integer end,
        window_ends_at = case when bucket.window_ends_at <= now() then excluded.window_ends_at else bucket.window_ends_at end
      returning bucket.key, bucket.points, greatest(ceil(extract(epoch from (bucket.window_ends_at - now())) * 1000), 0)::integer
    $$`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function if exists rate_limit_add(text[], integer[], integer[])`.execute(db);
}
