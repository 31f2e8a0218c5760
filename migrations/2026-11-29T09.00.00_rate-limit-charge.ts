import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // Charges one request to several budgets of rate_limit_buckets, all or nothing: every budget is locked
  // (in key order, so that concurrent charges queue instead of deadlocking; a missing one is created
  // first), then the request is admitted only if each budget has room for its points in the current
  // window, and only then are the points added to every one of them. A refused request spends nothing.
  // A budget's window starts with its first admitted charge and lasts its window_seconds; points are
  // capped at 2,000,000,000, well below integer's range. Returns, per budget, the points spent in the
  // window (after the charge when admitted, as they stand when refused), the milliseconds until the
  // window ends (a full window when none is running), and whether the request was admitted.
  // One call is one statement, so that it can also run inside the statement that authenticates a request.
  await sql`
    create function rate_limit_charge(charge_keys text[], charge_points integer[], charge_limits integer[], charge_window_seconds integer[])
    returns table (key text, points integer, ms_left integer, admitted boolean)
    language plpgsql volatile
    as $$
    #variable_conflict use_column
    declare
      charge record;
      current_points integer;
      current_end timestamptz;
      keys text[] := '{}';
      spent integer[] := '{}';
      added integer[] := '{}';
      ends timestamptz[] := '{}';
      ok boolean := true;
      n integer := 0;
    begin
      for charge in
        select c.key, c.points, c.lim, c.window_seconds
        from unnest(charge_keys, charge_points, charge_limits, charge_window_seconds) as c (key, points, lim, window_seconds)
        order by c.key
      loop
        select bucket.points, bucket.window_ends_at into current_points, current_end
        from rate_limit_buckets as bucket where bucket.key = charge.key for update;
        if not found then
          -- Created with an ended window, then locked like any other (a concurrent creator's row included).
          insert into rate_limit_buckets as bucket (key, points, window_ends_at) values (charge.key, 0, now()) on conflict (key) do nothing;
          select bucket.points, bucket.window_ends_at into current_points, current_end
          from rate_limit_buckets as bucket where bucket.key = charge.key for update;
        end if;
        if current_end <= now() then
          -- The last window has ended: a new one would start with this charge.
          current_points := 0;
          current_end := now() + make_interval(secs => charge.window_seconds);
        end if;
        n := n + 1;
        keys[n] := charge.key;
        spent[n] := current_points;
        added[n] := charge.points;
        ends[n] := current_end;
        if current_points::bigint + charge.points > charge.lim then ok := false; end if;
      end loop;
      for i in 1 .. n loop
        if ok then
          spent[i] := least(spent[i]::bigint + added[i], 2000000000)::integer;
          update rate_limit_buckets as bucket set points = spent[i], window_ends_at = ends[i] where bucket.key = keys[i];
        end if;
        key := keys[i];
        points := spent[i];
        ms_left := greatest(ceil(extract(epoch from (ends[i] - now())) * 1000), 0)::integer;
        admitted := ok;
        return next;
      end loop;
    end
    $$`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function if exists rate_limit_charge(text[], integer[], integer[], integer[])`.execute(db);
}
