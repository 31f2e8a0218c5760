import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { keyIdOf } from './key-ring.js';
import { createVault, DEV_KEY_FILE } from './key-source.js';

describe('createVault from configuration', () => {
  let dataDir: string;
  let lines: string[];
  const logger = () => createLogger({ level: 'trace', destination: { write: (line: string) => void lines.push(line) } });

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'igw-vault-'));
    lines = [];
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  const config = (env: Record<string, string>) => loadConfig({ DATA_DIR: dataDir, ...env });

  it('uses ENCRYPTION_KEY to seal and ENCRYPTION_KEYS_PREVIOUS to open', async () => {
    const [current, old1, old2] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const env = {
      ENCRYPTION_KEY: current.toString('base64'),
      ENCRYPTION_KEYS_PREVIOUS: ` ${old1.toString('base64')}, ${old2.toString('base64url')} `,
    };
    const vault = await createVault(config(env), logger());
    expect(vault.currentKeyId).toBe(keyIdOf(current));
    expect(vault.keyIds).toEqual([current, old1, old2].map(keyIdOf));
    expect(lines).toEqual([]);
  });

  it('refuses malformed keys, naming the variable and never the value', () => {
    for (const [name, value] of [
      ['ENCRYPTION_KEY', randomBytes(16).toString('base64')],
      ['ENCRYPTION_KEY', 'not base64 at all, definitely!'],
      ['ENCRYPTION_KEYS_PREVIOUS', `${randomBytes(32).toString('base64')},${randomBytes(31).toString('base64')}`],
    ] as const) {
      let error: unknown;
      try {
        config({ [name]: value });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(name);
      expect((error as Error).message).not.toContain(value.split(',').at(-1));
    }
  });

  it('requires ENCRYPTION_KEY in production', async () => {
    expect(() => config({ NODE_ENV: 'production' })).toThrow(/ENCRYPTION_KEY: required when NODE_ENV=production/);
    const withKey = config({ NODE_ENV: 'production', ENCRYPTION_KEY: randomBytes(32).toString('base64') });
    await expect(createVault({ ...withKey, encryptionKey: undefined }, logger())).rejects.toThrow(/ENCRYPTION_KEY: required/);
  });

  it('generates a development key once (owner-only), warns, and reuses it', async () => {
    const first = await createVault(config({}), logger());
    const file = path.join(dataDir, DEV_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const stored = (await readFile(file, 'utf8')).trim();
    expect(first.currentKeyId).toBe(keyIdOf(Buffer.from(stored, 'base64')));
    expect(lines.join('')).toMatch(/"level":40.*ENCRYPTION_KEY is not set/);
    expect(lines.join('')).not.toContain(stored);

    const second = await createVault(config({ NODE_ENV: 'test' }), logger());
    expect(second.currentKeyId).toBe(first.currentKeyId);
    const sealed = first.seal({ token: 't' }, { organizationId: 'o', integrationId: 'i', version: 1 });
    expect(second.open(sealed.ciphertext, sealed.keyId, { organizationId: 'o', integrationId: 'i', version: 1 })).toEqual({ token: 't' });
  });

  it('gives processes starting at once on a fresh data folder the same development key, never a half-written one', async () => {
    for (let round = 0; round < 10; round += 1) {
      await rm(path.join(dataDir, DEV_KEY_FILE), { force: true });
      const vaults = await Promise.all(Array.from({ length: 8 }, () => createVault(config({}), logger())));
      expect(new Set(vaults.map((vault) => vault.currentKeyId)).size).toBe(1);
    }
    expect((await readdir(dataDir)).sort()).toEqual([DEV_KEY_FILE]);
  });

  it('refuses a damaged development key file, naming the file', async () => {
    await writeFile(path.join(dataDir, DEV_KEY_FILE), 'garbage\n');
    await expect(createVault(config({}), logger())).rejects.toThrow(new RegExp(`${DEV_KEY_FILE}: expected base64`));
  });
});
