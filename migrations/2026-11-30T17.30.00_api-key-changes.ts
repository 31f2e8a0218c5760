import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // Gateway processes keep the keys they have verified in memory for a few seconds. A change that decides
  // whether a key authenticates, or as what (revocation, role, hash, organization, prefix, deletion), is
  // announced at commit on `igw_api_key_changes` with the key's visible prefix (never its secret), so that
  // every process forgets it at once. Recording a key's use (last_used_at) announces nothing.
  await sql`create function api_key_changed_notify() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE' then
        perform pg_notify('igw_api_key_changes', old.prefix);
        return null;
      end if;
      if new.revoked_at is distinct from old.revoked_at or new.role is distinct from old.role
         or new.key_hash is distinct from old.key_hash or new.organization_id is distinct from old.organization_id
         or new.prefix is distinct from old.prefix then
        perform pg_notify('igw_api_key_changes', old.prefix);
        if new.prefix is distinct from old.prefix then perform pg_notify('igw_api_key_changes', new.prefix); end if;
      end if;
      return null;
    end
  $$`.execute(db);
  await sql`create trigger api_key_changed after update or delete on api_keys for each row execute function api_key_changed_notify()`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists api_key_changed on api_keys`.execute(db);
  await sql`drop function if exists api_key_changed_notify()`.execute(db);
}
