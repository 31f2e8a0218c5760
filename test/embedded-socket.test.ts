import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../src/db/connection.js';
import { type EmbeddedServer, EMBEDDED_SOCKET_PORT } from '../src/db/embedded-server.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { testDatabaseKind } from './support/database.js';

/** Whether `promise` is still pending after `ms`. */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const marker = Symbol('pending');
  return (
    (await Promise.race([
      promise.then(
        () => null,
        () => null,
      ),
      new Promise((resolve) => setTimeout(() => resolve(marker), ms)),
    ])) === marker
  );
}

// The socket serves the embedded database only: on PostgreSQL there is nothing to test.
describe.skipIf(testDatabaseKind === 'postgres')('the embedded database served on a socket in DATA_DIR', () => {
  let dataDir: string;
  let owner: DatabaseHandle;
  let server: EmbeddedServer;
  const errors: unknown[] = [];

  const client = async () => {
    const connection = new pg.Client({ host: dataDir, port: EMBEDDED_SOCKET_PORT, user: 'postgres', database: 'postgres' });
    await connection.connect();
    return connection;
  };
  const slugs = async () => (await owner.db.selectFrom('organizations').select('slug').orderBy('slug').execute()).map((row) => row.slug);

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-socket-'));
    owner = await openDatabase({ kind: 'pglite', dataDir });
    await migrateToLatest(owner.db);
    server = await owner.serve!((error) => errors.push(error));
  });
  afterAll(async () => {
    await owner.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is a socket only its user may open, and answers a client as PostgreSQL does', async () => {
    expect(server.path).toBe(path.join(dataDir, `.s.PGSQL.${EMBEDDED_SOCKET_PORT}`));
    const info = await stat(server.path);
    expect(info.isSocket()).toBe(true);
    expect(info.mode & 0o777).toBe(0o600);
    const connection = await client();
    try {
      const { rows } = await connection.query('select $1::int + 1 as n, current_setting($2) as buffers', [41, 'shared_buffers']);
      expect(rows).toEqual([{ n: 42, buffers: '16MB' }]);
    } finally {
      await connection.end();
    }
  });

  it("holds the owner's statements while a client's transaction is open, so neither runs inside the other's", async () => {
    const connection = await client();
    try {
      await connection.query('begin');
      await connection.query("insert into organizations (slug, name) values ('client-tx', 'Client')");
      // Without the gate this insert would run inside the client's transaction and be rolled back with it.
      const ownerInsert = owner.db.insertInto('organizations').values({ slug: 'owner-write', name: 'Owner' }).execute();
      expect(await pendingAfter(ownerInsert, 300)).toBe(true);
      await connection.query('rollback');
      await ownerInsert;
      expect(await slugs()).toEqual(['owner-write']);
    } finally {
      await connection.end();
    }
  });

  it("holds a client's statements while the owner's transaction is open", async () => {
    const connection = await client();
    try {
      let releaseOwner!: () => void;
      const ownerMayCommit = new Promise<void>((resolve) => (releaseOwner = resolve));
      let ownerInTransaction!: () => void;
      const ownerStarted = new Promise<void>((resolve) => (ownerInTransaction = resolve));
      const ownerTransaction = owner.db.transaction().execute(async (trx) => {
        await trx.insertInto('organizations').values({ slug: 'owner-tx', name: 'Owner' }).execute();
        ownerInTransaction();
        await ownerMayCommit;
        throw new Error('roll the owner back');
      });
      await ownerStarted;
      const clientInsert = connection.query("insert into organizations (slug, name) values ('client-write', 'Client')");
      expect(await pendingAfter(clientInsert, 300)).toBe(true);
      releaseOwner();
      await expect(ownerTransaction).rejects.toThrow('roll the owner back');
      await clientInsert;
      expect(await slugs()).toEqual(['client-write', 'owner-write']);
    } finally {
      await connection.end();
    }
  });

  it('rolls back the transaction of a client killed inside it, and serves the owner again', async () => {
    // A CLI killed with -9 in the middle of its transaction: its socket closes without a word.
    const script = `const pg = require(process.argv[1]);
const client = new pg.Client({ host: process.argv[2], port: ${EMBEDDED_SOCKET_PORT}, user: 'postgres', database: 'postgres' });
client.connect()
  .then(() => client.query('begin'))
  .then(() => client.query("insert into organizations (slug, name) values ('abandoned', 'Gone')"))
  .then(() => process.kill(process.pid, 'SIGKILL'));`;
    const killed = await new Promise<string | null>((resolve) =>
      execFile(process.execPath, ['-e', script, createRequire(import.meta.url).resolve('pg'), dataDir], (error) =>
        resolve(error?.signal ?? null),
      ),
    );
    expect(killed).toBe('SIGKILL');
    expect(await slugs()).toEqual(['client-write', 'owner-write']);
    expect(errors).toEqual([]);
  });

  it('serves a client that shares it through openDatabase, with the same Kysely code', async () => {
    const shared = await openDatabase({ kind: 'pglite', dataDir }, { shareWaitMs: 0 });
    try {
      await shared.db.insertInto('organizations').values({ slug: 'via-socket', name: 'Shared' }).execute();
      expect(await slugs()).toContain('via-socket');
    } finally {
      await shared.close();
    }
  });
});
