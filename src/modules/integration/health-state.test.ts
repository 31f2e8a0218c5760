import { describe, expect, it } from 'vitest';
import type { ProbeOutcome } from '../../connectors/probe.js';
import { type HealthState, missingFrom, nextHealthState, UNHEALTHY_AFTER_FAILURES } from './health-state.js';

const active: HealthState = { status: 'ACTIVE', statusReason: null, health: 'HEALTHY', consecutiveFailures: 0 };

function outcome(kind: ProbeOutcome['kind'], httpStatus: number | null = null): ProbeOutcome {
  return {
    ok: kind === 'ok',
    kind,
    httpStatus,
    latencyMs: 5,
    errorCode: kind === 'ok' ? null : kind === 'rejected' ? 'PROVIDER_REJECTED_CREDENTIALS' : 'PROVIDER_ERROR',
    message: kind,
    identity: null,
    grantedScopes: null,
  };
}

describe('nextHealthState', () => {
  it('makes a successful probe HEALTHY and ACTIVE, also after re-authorization was needed', () => {
    const reauth: HealthState = { status: 'NEEDS_REAUTH', statusReason: 'x', health: 'UNHEALTHY', consecutiveFailures: 4 };
    expect(nextHealthState(reauth, outcome('ok', 200), [])).toEqual(active);
  });

  it('keeps a successful probe that lacks required scopes DEGRADED, naming them', () => {
    const next = nextHealthState(active, outcome('ok', 200), ['repo']);
    expect(next).toMatchObject({ status: 'ACTIVE', health: 'DEGRADED', statusReason: 'Missing required scopes: repo' });
  });

  it('moves a rejected credential to NEEDS_REAUTH', () => {
    expect(nextHealthState(active, outcome('rejected', 401), [])).toMatchObject({ status: 'NEEDS_REAUTH', health: 'UNHEALTHY' });
  });

  it('degrades on transient failures and turns UNHEALTHY when they repeat, keeping the status', () => {
    let state = active;
    for (let i = 1; i < UNHEALTHY_AFTER_FAILURES; i += 1) {
      state = nextHealthState(state, outcome('transient', 503), []);
      expect(state).toMatchObject({ status: 'ACTIVE', health: 'DEGRADED', consecutiveFailures: i });
    }
    state = nextHealthState(state, outcome('transient', 503), []);
    expect(state).toMatchObject({ status: 'ACTIVE', health: 'UNHEALTHY', consecutiveFailures: UNHEALTHY_AFTER_FAILURES });
    expect(nextHealthState(state, outcome('ok', 200), [])).toEqual(active);
  });

  it('keeps an integration whose refresh token was refused NEEDS_REAUTH with that reason, whatever the probe says', () => {
    const refused = 'Token refresh refused: invalid_grant';
    const reauth: HealthState = { status: 'NEEDS_REAUTH', statusReason: refused, health: 'UNHEALTHY', consecutiveFailures: 0 };
    // The current access token still works: the connection answers, until that token expires.
    expect(nextHealthState(reauth, outcome('ok', 200), [], refused)).toEqual({
      status: 'NEEDS_REAUTH',
      statusReason: refused,
      health: 'DEGRADED',
      consecutiveFailures: 0,
    });
    expect(nextHealthState(reauth, outcome('ok', 200), ['repo'], refused)).toMatchObject({
      status: 'NEEDS_REAUTH',
      statusReason: refused,
      health: 'DEGRADED',
    });
    expect(nextHealthState(reauth, outcome('rejected', 401), [], refused)).toMatchObject({
      status: 'NEEDS_REAUTH',
      statusReason: refused,
      health: 'UNHEALTHY',
    });
    expect(nextHealthState(reauth, outcome('transient', 503), [], refused)).toMatchObject({
      status: 'NEEDS_REAUTH',
      statusReason: refused,
      health: 'DEGRADED',
    });
  });

  it('never changes a revoked integration', () => {
    const revoked: HealthState = { status: 'REVOKED', statusReason: null, health: 'UNKNOWN', consecutiveFailures: 0 };
    expect(nextHealthState(revoked, outcome('ok', 200), [])).toBe(revoked);
  });
});

describe('missingFrom', () => {
  it('lists required scopes absent from a known grant, and none for an unknown grant', () => {
    expect(missingFrom(['a', 'b'], ['a', 'c'])).toEqual(['c']);
    expect(missingFrom(null, ['a'])).toEqual([]);
  });
});
