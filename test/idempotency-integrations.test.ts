import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECT, CONNECTING_GATEWAY, crashBeforeStoring, REVOKE } from './support/integration-flows.js';
import { sendGraphQL } from './support/request.js';

describe('Idempotency-Key on the integration mutations', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await createTestGateway(CONNECTING_GATEWAY);
  });
  afterAll(() => gateway.close());

  const connectInput = (token: string) => ({
    input: { provider: 'github', authKind: 'API_TOKEN', displayName: 'GitHub', config: {}, credentials: { token } },
  });
  const send = (key: string, query: string, variables: Record<string, unknown>) =>
    sendGraphQL(gateway, { key: gateway.world.acme.keys.EDITOR, query, variables, headers: { 'idempotency-key': key } });
  const integrations = async () =>
    Number(
      (
        await gateway.db
          .selectFrom('integrations')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('organization_id', '=', gateway.world.acme.organization.id)
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('50 concurrent connectIntegration requests with one key create one integration with one probe', async () => {
    gateway.fake.reset();
    await gateway.connect('github', 'API_TOKEN');
    const probeCalls = gateway.fake.calls('github', 'api');
    expect(probeCalls).toBeGreaterThan(0);

    const key = randomUUID();
    const variables = connectInput(gateway.fake.issueApiToken('github'));
    const before = await integrations();
    gateway.fake.reset();
    const answers = await Promise.all(Array.from({ length: 50 }, () => send(key, CONNECT, variables)));
    expect(await integrations()).toBe(before + 1);
    expect(gateway.fake.calls('github', 'api')).toBe(probeCalls);
    const ran = answers.filter((answer) => answer.status === 200 && answer.headers.get('idempotent-replayed') === null);
    expect(ran).toHaveLength(1);
    expect(ran[0]?.body.data.connectIntegration.integration.status).toBe('ACTIVE');
    for (const answer of answers) expect(answer.status === 409 || answer.text === ran[0]?.text).toBe(true);
  });

  it('resumes connectIntegration after a lease takeover instead of connecting twice', async () => {
    const key = randomUUID();
    const variables = connectInput(gateway.fake.issueApiToken('github'));
    const first = await send(key, CONNECT, variables);
    const id = first.body.data.connectIntegration.integration.id;
    const before = await integrations();
    await crashBeforeStoring(gateway.db, key);
    gateway.fake.reset();

    const retried = await send(key, CONNECT, variables);
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(retried.body.data.connectIntegration.integration.id).toBe(id);
    expect(await integrations()).toBe(before);
    expect(gateway.fake.calls('github', 'api')).toBe(0);
    const events = await gateway.events(id);
    expect(events.filter((event) => event.type === 'integration.connected').map((event) => event.detail.idempotencyKey)).toEqual([key]);
  });

  it('resumes revokeIntegration after a lease takeover without calling the provider again', async () => {
    const id = await gateway.connectOAuth('gitlab');
    const key = randomUUID();
    gateway.fake.reset();
    const first = await send(key, REVOKE, { input: { id } });
    expect(first.body.data.revokeIntegration.userErrors).toEqual([]);
    expect(first.body.data.revokeIntegration.revokedAtProvider).toBe(true);
    expect(gateway.fake.calls('gitlab', 'revoke')).toBeGreaterThan(0);
    await crashBeforeStoring(gateway.db, key);
    gateway.fake.reset();

    const retried = await send(key, REVOKE, { input: { id } });
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(retried.body.data.revokeIntegration.userErrors).toEqual([]);
    expect(retried.body.data.revokeIntegration.integration.status).toBe('REVOKED');
    expect(gateway.fake.calls('gitlab')).toBe(0);
  });

  it('renews the lease of a slow mutation, so that a retry meanwhile gets 409 rather than a second run', async () => {
    const services = { ...gateway.services, probeTimeoutMs: 10_000 };
    const slow = await createTestGateway({ database: gateway.database, services, idempotency: { leaseSeconds: 1 } });
    try {
      const key = randomUUID();
      const variables = connectInput(gateway.fake.issueApiToken('github'));
      let open = () => {};
      gateway.fake.reset();
      gateway.fake.fault('github', 'api', { until: new Promise<void>((resolve) => (open = resolve)) }, 1);
      const send = () =>
        sendGraphQL(slow, { key: gateway.world.acme.keys.EDITOR, query: CONNECT, variables, headers: { 'idempotency-key': key } });
      const first = send();
      await new Promise((resolve) => setTimeout(resolve, 2_500)); // two and a half leases
      const meanwhile = await send();
      expect(meanwhile.status).toBe(409);
      open();
      expect((await first).status).toBe(200);
      expect((await send()).text).toBe((await first).text);
      expect(gateway.fake.calls('github', 'api')).toBeLessThanOrEqual(2);
    } finally {
      await slow.close();
    }
  });
});
