import path from 'node:path';
import { z } from 'zod';
import { listConnectors } from './connectors/registry.js';
import { type ConnectorSettingsMap, connectorSettingsFromEnv } from './connectors/settings.js';

const intFromEnv = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: intFromEnv(4000, 0, 65535),
  DATABASE_URL: z.string().url().optional(),
  DATABASE_POOL_SIZE: intFromEnv(10, 1, 1000),
  DATA_DIR: z.string().min(1).default('./.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_TIMEOUT_MS: intFromEnv(10_000, 0, 600_000),
  PUBLIC_URL: z.string().regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'expected an http(s) URL').optional(),
});

/** The gateway's configuration, read once from the environment at start. */
export interface Config {
  /** `production` turns off the demo organization and development conveniences. */
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  /** PostgreSQL connection string; when absent the embedded PGlite in `dataDir` is used. */
  databaseUrl: string | undefined;
  /** Size of the `pg` connection pool (ignored by the embedded database, which has one connection). */
  databasePoolSize: number;
  /** Folder for the embedded database and other local state, resolved to an absolute path. */
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How long a SIGTERM waits for in-flight requests before closing them. */
  shutdownTimeoutMs: number;
  /** The gateway's public origin; OAuth2 providers redirect to `${publicUrl}/oauth/callback`. */
  publicUrl: string;
  /** Per-connector OAuth2 clients and endpoint overrides, from `CONNECTOR_<PROVIDER>_<FIELD>`. */
  connectors: ConnectorSettingsMap;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function readConnectorSettings(env: NodeJS.ProcessEnv): ConnectorSettingsMap {
  try {
    return connectorSettingsFromEnv(env, listConnectors());
  } catch (error) {
    throw new ConfigError(`Invalid configuration: ${(error as Error).message}`);
  }
}

/** Validates the environment once; an invalid variable stops the process with a message naming it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set", as shells and .env files commonly produce them.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const values = parsed.data;
  return {
    env: values.NODE_ENV,
    host: values.HOST,
    port: values.PORT,
    databaseUrl: values.DATABASE_URL,
    databasePoolSize: values.DATABASE_POOL_SIZE,
    dataDir: path.resolve(values.DATA_DIR),
    logLevel: values.LOG_LEVEL,
    shutdownTimeoutMs: values.SHUTDOWN_TIMEOUT_MS,
    publicUrl: (values.PUBLIC_URL ?? `http://localhost:${values.PORT}`).replace(/\/+$/, ''),
    connectors: readConnectorSettings(present),
  };
}
