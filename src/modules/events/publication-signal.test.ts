import { createServer, type Server, type Socket, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openRedisSignal, type PublicationSignal, RedisUnavailableError } from './publication-signal.js';

/** The Redis the tests use (a real server). */
const REDIS = { host: '127.0.0.1', port: Number(process.env.TEST_REDIS_PORT ?? 6379) };

/** A TCP proxy in front of Redis that can be cut (connections dropped, port closed) and restored on the same port. */
async function redisProxy() {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const start = () =>
    new Promise<void>((resolve) => {
      const listening = createServer((client) => {
        const upstream = connect(REDIS.port, REDIS.host);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {});
        }
        client.pipe(upstream).pipe(client);
      });
      server = listening;
      listening.listen(port, '127.0.0.1', () => {
        port = (listening.address() as { port: number }).port;
        resolve();
      });
    });
  await start();
  return {
    url: () => `redis://127.0.0.1:${port}`,
    async cut() {
      const closed = new Promise<void>((resolve) => (server?.listening ? server.close(() => resolve()) : resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    restore: start,
  };
}

const until = async (check: () => boolean, what: string, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('the Redis publication signal (REDIS_URL)', () => {
  const opened: PublicationSignal[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((signal) => signal.close()));
  });

  it('carries positions between processes, tells a lost connection once, and asks its watchers to look again when back', async () => {
    const proxy = await redisProxy();
    const events: string[] = [];
    const listener = await openRedisSignal(proxy.url(), { onLost: () => events.push('lost'), onBack: () => events.push('back') });
    const announcer = await openRedisSignal(`redis://${REDIS.host}:${REDIS.port}`);
    opened.push(listener, announcer);
    // Positions are large and distinct, so that other processes announcing on the same Redis do not look like these.
    const base = 9_000_000_000 + Math.floor(Math.random() * 1_000_000) * 100;
    const heard: (number | null)[] = [];
    const stop = await listener.watch((position) => heard.push(position));
    announcer.announce(base + 1);
    await until(() => heard.includes(base + 1), 'the first announcement');

    await proxy.cut();
    await until(() => events.includes('lost'), 'the loss to be told');
    announcer.announce(base + 2);
    // Announcing while lost fails quietly (told as the same loss, once).
    listener.announce(base + 3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heard).not.toContain(base + 2);

    await proxy.restore();
    await until(() => events.includes('back'), 'the connection to come back');
    // Back: watchers are asked to look for what they missed, then hear announcements again.
    await until(() => heard.includes(null), 'a look-again');
    await new Promise((resolve) => setTimeout(resolve, 200));
    announcer.announce(base + 4);
    await until(() => heard.includes(base + 4), 'an announcement after the return');
    expect(events).toEqual(['lost', 'back']);
    expect(heard).not.toContain(base + 2);

    await stop();
    announcer.announce(base + 5);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heard).not.toContain(base + 5);
    await proxy.cut();
  });

  it('refuses to open when Redis cannot be reached, naming the address but never the password', async () => {
    const proxy = await redisProxy();
    const port = Number(new URL(proxy.url()).port);
    await proxy.cut();
    const error = await openRedisSignal(`redis://:hunter2-secret@127.0.0.1:${port}`).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as Error).message).toMatch(/^Redis \(REDIS_URL\) cannot be reached: .*ECONNREFUSED/);
    expect(`${(error as Error).message} ${(error as Error).stack}`).not.toContain('hunter2-secret');
  });
});
