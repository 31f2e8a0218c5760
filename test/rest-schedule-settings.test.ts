import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFor, RETURN_URL } from './support/integration-flows.js';
import { createRestWorld, type RestWorld } from './support/rest-client.js';

// An integration's own schedule of health probes over REST: set when connecting, changed by a merge patch.

let w: RestWorld;
beforeAll(async () => {
  w = await createRestWorld();
});
afterAll(() => w.close());

const get = async (id: string) => (await w.as('VIEWER').GET('/integrations/{id}', { params: { path: { id } } })).data;

describe('health_check_interval_seconds and health_checks_paused', () => {
  it('are set by POST, shown on the integration, changed and cleared by PATCH, and refused out of bounds', async () => {
    const created = await w.as('EDITOR').POST('/integrations', {
      body: w.tokenConnect('gitlab', { health_check_interval_seconds: 3600, health_checks_paused: true }),
    });
    expect(created.response.status).toBe(201);
    const id = created.data?.data.id as string;
    expect(created.data?.data).toMatchObject({
      health_check_interval_seconds: 3600,
      health_checks_paused: true,
      next_health_check_at: null,
      next_refresh_at: null,
    });

    const editor = w.as('EDITOR');
    const resumed = await editor.PATCH('/integrations/{id}', { params: { path: { id } }, body: { health_checks_paused: false } });
    expect(resumed.data?.data).toMatchObject({ health_check_interval_seconds: 3600, health_checks_paused: false });

    const before = await get(id);
    for (const seconds of [30, 86_401]) {
      const refused = await editor.PATCH('/integrations/{id}', {
        params: { path: { id } },
        body: { health_check_interval_seconds: seconds },
      });
      expect(refused.error).toMatchObject({ status: 422, code: 'VALIDATION', errors: [{ pointer: '/health_check_interval_seconds' }] });
    }
    const malformed = await w.raw(`/v1/integrations/${id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${w.gw.world.acme.keys.EDITOR}`, 'content-type': 'application/json' },
      body: JSON.stringify({ health_check_interval_seconds: 'hourly' }),
    });
    expect(malformed.status).toBe(400);
    await malformed.body?.cancel();
    expect(await get(id)).toEqual(before);

    const cleared = await editor.PATCH('/integrations/{id}', { params: { path: { id } }, body: { health_check_interval_seconds: null } });
    expect(cleared.data?.data).toMatchObject({ health_check_interval_seconds: null, health_checks_paused: false });
  });

  it('wait with an OAuth2 reconnection until its authorization completes', async () => {
    const body = {
      provider: 'github',
      display_name: 'GitHub OAuth',
      auth_kind: 'oauth2' as const,
      config: configFor('github', w.gw.fake),
      return_url: RETURN_URL,
    };
    const started = await w.as('EDITOR').POST('/integrations', { body: { ...body, health_check_interval_seconds: 600 } });
    expect(started.data?.data).toMatchObject({ status: 'pending_authorization', health_check_interval_seconds: 600 });
    const id = started.data?.data.id as string;
    await w.gw.authorize(started.data?.authorization_url as string);
    expect(await get(id)).toMatchObject({ status: 'active', health_check_interval_seconds: 600, health_checks_paused: false });

    const again = await w.as('EDITOR').POST('/integrations', {
      body: { ...body, integration_id: id, health_check_interval_seconds: 900, health_checks_paused: true },
    });
    expect(again.response.status).toBe(202);
    expect(await get(id)).toMatchObject({ health_check_interval_seconds: 600, health_checks_paused: false });
    const { location } = await w.gw.authorize(again.data?.authorization_url as string);
    expect(location?.searchParams.get('outcome')).toBe('connected');
    expect(await get(id)).toMatchObject({ health_check_interval_seconds: 900, health_checks_paused: true, next_health_check_at: null });
  });
});
