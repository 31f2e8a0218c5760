import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import { openEndpointSecrets } from '../src/modules/webhook/webhook-secrets.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { sendGraphQL } from './support/request.js';
import { testWebhooks } from './support/services.js';

const FIELDS =
  'id url description eventTypes enabled integration { id } secretRotatedAt previousSecretExpiresAt disabledAt disabledReason';
const CREATE = `mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { endpoint { ${FIELDS} } signingSecret userErrors { code field message } } }`;
const UPDATE = `mutation($input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(input: $input) { endpoint { ${FIELDS} } signingSecret userErrors { code field message } } }`;
const DELETE = `mutation($input: DeleteWebhookEndpointInput!) {
  deleteWebhookEndpoint(input: $input) { deletedEndpointId userErrors { code field message } } }`;
const LIST = `query($after: String, $filter: WebhookEndpointFilter) {
  webhookEndpoints(first: 2, after: $after, filter: $filter) { edges { node { id url } } pageInfo { hasNextPage endCursor } } }`;

/** A receiver URL on loopback: nothing listens there, and nothing is sent in this suite. */
const RECEIVER = 'http://127.0.0.1:9/hooks';

describe('webhook endpoints', () => {
  let gateway: TestGateway;
  let admin: string;

  beforeAll(async () => {
    // Names under .invalid never resolve (RFC 6761), wherever the suite runs.
    const lookup = async (name: string) => {
      if (name.endsWith('.invalid')) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return [{ address: '93.184.216.34' }];
    };
    gateway = await createTestGateway({ world: true, services: { webhooks: { ...testWebhooks(), lookup } } });
    admin = gateway.world.acme.keys.ADMIN;
  });
  afterAll(() => gateway.close());

  const create = async (input: Record<string, unknown>, key = admin) => (await gateway.graphql(key, CREATE, { input })).body;

  it('creates an endpoint whose signing secret is shown once and sealed at rest', async () => {
    const body = await create({ url: RECEIVER, eventTypes: ['integration.*', 'api_key.created'], description: 'CMDB' });
    const payload = body.data.createWebhookEndpoint;
    expect(payload.userErrors).toEqual([]);
    expect(payload.signingSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(payload.signingSecret.slice(6), 'base64')).toHaveLength(32);
    expect(payload.endpoint).toMatchObject({
      url: RECEIVER,
      description: 'CMDB',
      eventTypes: ['integration.*', 'api_key.created'],
      enabled: true,
      integration: null,
      previousSecretExpiresAt: null,
    });
    const row = await gateway.db.selectFrom('webhook_endpoints').selectAll().executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(payload.signingSecret.slice(6));
    expect(openEndpointSecrets(gateway.services, row)).toEqual({ current: payload.signingSecret, previous: null });
    // Never readable again: no field returns it.
    const read = await gateway.graphql(admin, `query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { ${FIELDS} } } }`, {
      id: payload.endpoint.id,
    });
    expect(JSON.stringify(read.body)).not.toContain(payload.signingSecret);
    expect(gateway.logs.join('\n')).not.toContain(payload.signingSecret.slice(6));
  });

  it('refuses filters that are not event types or patterns, naming the entry', async () => {
    const cases: [unknown[], string[], RegExp][] = [
      [['integration.*', 'integration.conected'], ['input', 'eventTypes', '1'], /matches no event type/],
      [['push'], ['input', 'eventTypes', '0'], /matches no event type/],
      [['integration*'], ['input', 'eventTypes', '0'], /prefix ending in \.\*/],
      [['*.connected'], ['input', 'eventTypes', '0'], /prefix ending in \.\*/],
      [[], ['input', 'eventTypes'], /at least one/],
    ];
    for (const [eventTypes, field, message] of cases) {
      const { userErrors } = (await create({ url: RECEIVER, eventTypes })).data.createWebhookEndpoint;
      expect(userErrors, JSON.stringify(eventTypes)).toEqual([{ code: 'VALIDATION', field, message: expect.stringMatching(message) }]);
    }
    for (const eventTypes of [['*'], ['integration.*'], ['api_key.revoked', 'webhook_endpoint.disabled']]) {
      expect((await create({ url: RECEIVER, eventTypes })).data.createWebhookEndpoint.userErrors).toEqual([]);
    }
    // Absent: every event.
    expect((await create({ url: RECEIVER })).data.createWebhookEndpoint.endpoint.eventTypes).toEqual(['*']);
  });

  it('refuses URLs that are not http(s), carry credentials, or do not resolve', async () => {
    const cases: [string, string, RegExp][] = [
      ['not a url', 'VALIDATION', /absolute/],
      ['ftp://hooks.example.com/in', 'VALIDATION', /https/],
      ['https://user:pw@hooks.example.com/in', 'VALIDATION', /credentials/],
      ['https://no-such-host.invalid/in', 'VALIDATION', /does not resolve/],
      ['http://169.254.169.254/latest/meta-data', 'OUTBOUND_BLOCKED', /internal/],
      ['http://[::ffff:169.254.169.254]/', 'OUTBOUND_BLOCKED', /internal/],
    ];
    for (const [url, code, message] of cases) {
      const { userErrors } = (await create({ url })).data.createWebhookEndpoint;
      expect(userErrors, url).toEqual([{ code, field: ['input', 'url'], message: expect.stringMatching(message) }]);
    }
  });

  it('refuses private and loopback receivers under the production policy, resolved names included', async () => {
    const production = await createTestGateway({
      world: true,
      services: {
        production: true,
        webhooks: {
          ...testWebhooks({}, { allowlist: [], allowPrivate: false, requireHttps: true }),
          lookup: async (name) => (name === 'intranet.example.com' ? [{ address: '10.1.2.3' }] : [{ address: '93.184.216.34' }]),
        },
      },
    });
    try {
      const key = production.world.acme.keys.ADMIN;
      const cases: [string, RegExp][] = [
        ['https://127.0.0.1/hooks', /internal/],
        ['https://[::1]/hooks', /internal/],
        ['https://10.0.0.7/hooks', /internal/],
        ['https://intranet.example.com/hooks', /resolves only to internal addresses/],
        ['http://hooks.example.com/hooks', /https is required/],
      ];
      for (const [url, message] of cases) {
        const answer = await production.graphql(key, CREATE, { input: { url } });
        expect(answer.body.data.createWebhookEndpoint.userErrors, url).toEqual([
          { code: 'OUTBOUND_BLOCKED', field: ['input', 'url'], message: expect.stringMatching(message) },
        ]);
      }
      const ok = await production.graphql(key, CREATE, { input: { url: 'https://hooks.example.com/hooks' } });
      expect(ok.body.data.createWebhookEndpoint.userErrors).toEqual([]);
      expect(await production.db.selectFrom('webhook_endpoints').select('url').execute()).toEqual([
        { url: 'https://hooks.example.com/hooks' },
      ]);
    } finally {
      await production.close();
    }
  });

  it('updates, rotates with a grace period, and deletes, each for ADMIN only', async () => {
    const created = (await create({ url: RECEIVER, eventTypes: ['*'] })).data.createWebhookEndpoint;
    const id = created.endpoint.id;
    const updated = (
      await gateway.graphql(admin, UPDATE, { input: { id, eventTypes: ['integration.*'], description: 'ops', enabled: false } })
    ).body.data.updateWebhookEndpoint;
    expect(updated).toMatchObject({
      signingSecret: null,
      userErrors: [],
      endpoint: { eventTypes: ['integration.*'], description: 'ops' },
    });
    expect(updated.endpoint.enabled).toBe(false);

    const rotated = (await gateway.graphql(admin, UPDATE, { input: { id, rotateSecret: true, secretGracePeriodSeconds: 3600 } })).body.data
      .updateWebhookEndpoint;
    expect(rotated.userErrors).toEqual([]);
    expect(rotated.signingSecret).toMatch(/^whsec_/);
    expect(rotated.signingSecret).not.toBe(created.signingSecret);
    const expires = Date.parse(rotated.endpoint.previousSecretExpiresAt);
    expect(expires - Date.now()).toBeGreaterThan(3500_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(3600_000);
    const row = await gateway.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', decode(id)).executeTakeFirstOrThrow();
    expect(openEndpointSecrets(gateway.services, row)).toEqual({ current: rotated.signingSecret, previous: created.signingSecret });

    const immediate = (await gateway.graphql(admin, UPDATE, { input: { id, rotateSecret: true, secretGracePeriodSeconds: 0 } })).body.data
      .updateWebhookEndpoint;
    expect(immediate.endpoint.previousSecretExpiresAt).toBeNull();

    const badGrace = (await gateway.graphql(admin, UPDATE, { input: { id, secretGracePeriodSeconds: 60 } })).body.data
      .updateWebhookEndpoint;
    expect(badGrace.userErrors[0]).toMatchObject({ code: 'VALIDATION', field: ['input', 'secretGracePeriodSeconds'] });
    const nothing = (await gateway.graphql(admin, UPDATE, { input: { id } })).body.data.updateWebhookEndpoint;
    expect(nothing.userErrors[0]).toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/Nothing to change/) });

    for (const role of ['VIEWER', 'EDITOR'] as const) {
      const key = gateway.world.acme.keys[role];
      for (const [query, input] of [
        [CREATE, { url: RECEIVER }],
        [UPDATE, { id, enabled: true }],
        [DELETE, { id }],
      ] as const) {
        const answer = await gateway.graphql(key, query, { input });
        expect(answer.body.errors?.[0]?.extensions?.code, `${role} ${query.slice(0, 40)}`).toBe('FORBIDDEN');
        expect(answer.body.data).toBeNull();
      }
      expect((await gateway.graphql(key, LIST)).body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }

    const deleted = (await gateway.graphql(admin, DELETE, { input: { id } })).body.data.deleteWebhookEndpoint;
    expect(deleted).toEqual({ deletedEndpointId: id, userErrors: [] });
    const again = (await gateway.graphql(admin, DELETE, { input: { id } })).body.data.deleteWebhookEndpoint;
    expect(again.userErrors).toEqual([{ code: 'NOT_FOUND', field: ['input', 'id'], message: 'No such webhook endpoint.' }]);
  });

  it('replays a creation sent again with its Idempotency-Key: one endpoint, the same secret', async () => {
    const before = await gateway.db.selectFrom('webhook_endpoints').select('id').execute();
    const key = randomUUID();
    const send = () =>
      sendGraphQL(gateway, { key: admin, query: CREATE, variables: { input: { url: RECEIVER } }, headers: { 'idempotency-key': key } });
    const first = await send();
    const second = await send();
    expect(second.text).toBe(first.text);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const after = await gateway.db.selectFrom('webhook_endpoints').select('id').execute();
    expect(after.length).toBe(before.length + 1);
  });

  it("pages the organization's endpoints and never shows another organization's", async () => {
    const globex = gateway.world.globex.keys.ADMIN;
    const theirs = (await create({ url: 'http://127.0.0.1:9/globex' }, globex)).data.createWebhookEndpoint.endpoint;
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 50; page += 1) {
      const answer: any = (await gateway.graphql(admin, LIST, { after })).body.data.webhookEndpoints;
      seen.push(...answer.edges.map((edge: { node: { id: string } }) => edge.node.id));
      if (!answer.pageInfo.hasNextPage) break;
      after = answer.pageInfo.endCursor;
    }
    const own = await gateway.db
      .selectFrom('webhook_endpoints')
      .select('id')
      .where('organization_id', '=', gateway.world.acme.organization.id)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    expect(seen).toEqual(own.map((row) => encodeGlobalID('WebhookEndpoint', row.id)));
    expect(seen).not.toContain(theirs.id);
    // Another organization's endpoint is missing for acme, through every door.
    const foreign = [
      await gateway.graphql(admin, UPDATE, { input: { id: theirs.id, enabled: false } }),
      await gateway.graphql(admin, DELETE, { input: { id: theirs.id } }),
    ];
    for (const answer of foreign) {
      expect(Object.values(answer.body.data as Record<string, { userErrors: unknown[] }>)[0]?.userErrors).toEqual([
        { code: 'NOT_FOUND', field: ['input', 'id'], message: 'No such webhook endpoint.' },
      ]);
    }
    const node = await gateway.graphql(admin, 'query($id: ID!) { node(id: $id) { id } }', { id: theirs.id });
    expect(node.body.data.node).toBeNull();
    const scoped = await gateway.graphql(admin, LIST, { filter: { scope: 'INTEGRATION' } });
    expect(scoped.body.data.webhookEndpoints.edges).toEqual([]);
  });
});

function decode(id: string): string {
  return Buffer.from(id, 'base64url').toString().split(':')[1] as string;
}
