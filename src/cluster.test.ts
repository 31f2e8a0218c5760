import { describe, expect, it } from 'vitest';
import { planWorkers, workersArgument } from './cluster.js';
import { type Config, ConfigError, loadConfig } from './config.js';

const config = (env: Record<string, string>): Config => loadConfig({ ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'), ...env });
const POSTGRES = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x' };

describe('how many gateway processes run', () => {
  it('reads --workers N and --workers=N, and refuses anything but a whole number from 1', () => {
    expect(workersArgument([])).toBeUndefined();
    expect(workersArgument(['--workers', '3'])).toBe(3);
    expect(workersArgument(['--workers=4'])).toBe(4);
    for (const bad of [['--workers'], ['--workers', '0'], ['--workers=1.5'], ['--workers', 'all'], ['--workers=']])
      expect(() => workersArgument(bad)).toThrow(ConfigError);
  });

  it('defaults to the cores in production and to 1 elsewhere, on PostgreSQL', () => {
    expect(planWorkers(config({ ...POSTGRES, NODE_ENV: 'production' }), [], 8)).toEqual({ count: 8 });
    expect(planWorkers(config({ ...POSTGRES }), [], 8)).toEqual({ count: 1 });
    expect(planWorkers(config({ ...POSTGRES, WEB_CONCURRENCY: '3' }), [], 8)).toEqual({ count: 3 });
    // The command's argument wins over the variable.
    expect(planWorkers(config({ ...POSTGRES, WEB_CONCURRENCY: '3' }), ['--workers', '2'], 8)).toEqual({ count: 2 });
  });

  it('runs one process on the embedded database: refuses more asked for, and says why the production default is 1', () => {
    expect(() => planWorkers(config({ WEB_CONCURRENCY: '2' }), [], 8)).toThrow(
      /embedded database \(no DATABASE_URL\) belongs to one process/,
    );
    expect(() => planWorkers(config({}), ['--workers', '2'], 8)).toThrow(ConfigError);
    expect(planWorkers(config({ WEB_CONCURRENCY: '1' }), [], 8)).toEqual({ count: 1 });
    const production = planWorkers(config({ NODE_ENV: 'production' }), [], 8);
    expect(production.count).toBe(1);
    expect(production.reason).toMatch(/embedded database/);
  });

  it('refuses a WEB_CONCURRENCY that is not a whole number from 1', () => {
    for (const value of ['0', '-1', 'two', '1.5'])
      expect(() => config({ ...POSTGRES, WEB_CONCURRENCY: value })).toThrow(/WEB_CONCURRENCY/);
  });
});
