import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';
import { DEFAULT_ENGINE_CONFIG } from './engine.config.js';

describe('the engine configuration', () => {
  it('runs workers in every process by default', () => {
    expect(loadConfig({}).engine).toEqual(DEFAULT_ENGINE_CONFIG);
    expect(DEFAULT_ENGINE_CONFIG).toMatchObject({
      workers: true,
      healthCheckIntervalSeconds: 300,
      tokenRefreshAheadSeconds: 600,
      tokenRefreshMaxAgeSeconds: 86_400,
    });
  });

  it('turns workers off with WORKERS=0 and reads its variables', () => {
    const engine = loadConfig({
      WORKERS: '0',
      WORKER_CONCURRENCY: '8',
      WORKER_POLL_INTERVAL_MS: '500',
      HEALTH_CHECK_INTERVAL_SECONDS: '60',
      HEALTH_CHECK_MAX_BACKOFF_SECONDS: '600',
      TOKEN_REFRESH_AHEAD_SECONDS: '120',
      TOKEN_REFRESH_MAX_AGE_SECONDS: '43200',
      SYNC_INTERVAL_SECONDS: '900',
      SYNC_MAX_ITEMS: '500',
    }).engine;
    expect(engine).toEqual({
      workers: false,
      concurrency: 8,
      pollIntervalMs: 500,
      healthCheckIntervalSeconds: 60,
      healthCheckMaxBackoffSeconds: 600,
      tokenRefreshAheadSeconds: 120,
      tokenRefreshMaxAgeSeconds: 43_200,
      syncIntervalSeconds: 900,
      syncMaxItems: 500,
    });
  });

  it('never backs off to less than one interval', () => {
    expect(
      loadConfig({ HEALTH_CHECK_INTERVAL_SECONDS: '900', HEALTH_CHECK_MAX_BACKOFF_SECONDS: '60' }).engine.healthCheckMaxBackoffSeconds,
    ).toBe(900);
  });

  it('refuses a value out of range, naming the variable', () => {
    expect(() => loadConfig({ WORKER_CONCURRENCY: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ WORKER_CONCURRENCY: '0' })).toThrow(/WORKER_CONCURRENCY/);
    expect(() => loadConfig({ WORKERS: '2' })).toThrow(/WORKERS/);
    expect(() => loadConfig({ HEALTH_CHECK_INTERVAL_SECONDS: 'soon' })).toThrow(/HEALTH_CHECK_INTERVAL_SECONDS/);
    expect(() => loadConfig({ SYNC_MAX_ITEMS: '0' })).toThrow(/SYNC_MAX_ITEMS/);
    expect(() => loadConfig({ TOKEN_REFRESH_MAX_AGE_SECONDS: '0' })).toThrow(/TOKEN_REFRESH_MAX_AGE_SECONDS/);
    expect(() => loadConfig({ TOKEN_REFRESH_MAX_AGE_SECONDS: '1d' })).toThrow(/TOKEN_REFRESH_MAX_AGE_SECONDS/);
    expect(() => loadConfig({ TOKEN_REFRESH_MAX_AGE_SECONDS: '2592001' })).toThrow(/TOKEN_REFRESH_MAX_AGE_SECONDS/);
  });
});
