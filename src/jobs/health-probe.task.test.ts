import { describe, expect, it } from 'vitest';
import { integrationPayload } from './health-probe.task.js';

describe('the payload of a probe or refresh job', () => {
  const organizationId = '0b6f3a58-2d1c-4c1e-9a51-3f1d2f2f6a10';
  const integrationId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

  it('is the integration and its organization', () => {
    expect(integrationPayload({ organizationId, integrationId, extra: 1 })).toEqual({ organizationId, integrationId });
  });

  it('fails a job added by hand with anything else, naming what it expects', () => {
    for (const payload of [null, {}, { organizationId, integrationId: 'x' }, { organizationId: 1, integrationId }]) {
      expect(() => integrationPayload(payload)).toThrow('{"organizationId": "<uuid>", "integrationId": "<uuid>"}');
    }
  });
});
