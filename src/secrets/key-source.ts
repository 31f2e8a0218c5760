import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Config, ConfigError } from '../config.js';
import type { Logger } from '../logger.js';
import { decodeKey, KEY_BYTES, KeyRing } from './key-ring.js';
import { SecretVault } from './vault.js';

/** The configuration a vault is built from. */
export type VaultConfig = Pick<Config, 'env' | 'dataDir' | 'encryptionKey' | 'encryptionKeysPrevious'>;

/** File name of the generated development key inside `DATA_DIR`. */
export const DEV_KEY_FILE = 'encryption.key';

function decodeOrFail(encoded: string, source: string): Buffer {
  const key = decodeKey(encoded);
  // The message names where the value came from, never the value.
  if (!key) throw new ConfigError(`Invalid configuration: ${source}: expected base64 of exactly ${KEY_BYTES} bytes`);
  return key;
}

async function readKeyFile(file: string): Promise<Buffer | null> {
  try {
    return decodeOrFail(await readFile(file, 'utf8'), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Outside production a missing ENCRYPTION_KEY must not stop `npm start` on a fresh machine, so a key is
 * generated once into the data folder (readable by its owner only) and reused on later starts: secrets
 * sealed yesterday still open today.
 */
async function developmentKey(dataDir: string, logger: Logger): Promise<Buffer> {
  const file = path.join(dataDir, DEV_KEY_FILE);
  const warning =
    'ENCRYPTION_KEY is not set: provider secrets are encrypted with a development key kept in the data folder. ' +
    'Set ENCRYPTION_KEY (base64 of 32 random bytes) before storing real credentials.';
  const existing = await readKeyFile(file);
  if (existing) {
    logger.warn({ keyFile: file }, warning);
    return existing;
  }
  await mkdir(dataDir, { recursive: true });
  const key = randomBytes(KEY_BYTES);
  // Written whole under a name of its own, then linked to the key's name, which fails if it exists: a
  // second process starting at the same moment neither replaces the key the first one uses nor reads
  // it half-written (with the file created by `wx` and then written, it could read it empty).
  const draft = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(draft, `${key.toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
    await link(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const raced = await readKeyFile(file);
    if (raced) return raced;
    throw error;
  } finally {
    await rm(draft, { force: true });
  }
  logger.warn({ keyFile: file }, `${warning} Generated a new key.`);
  return key;
}

/**
 * Builds the process's vault: `ENCRYPTION_KEY` seals, it and `ENCRYPTION_KEYS_PREVIOUS` open. Production
 * without a key is a configuration error; elsewhere a development key is generated on first start.
 */
export async function createVault(config: VaultConfig, logger: Logger): Promise<SecretVault> {
  const previous = config.encryptionKeysPrevious.map((encoded, i) => decodeOrFail(encoded, `ENCRYPTION_KEYS_PREVIOUS[${i}]`));
  let current: Buffer;
  if (config.encryptionKey) {
    current = decodeOrFail(config.encryptionKey, 'ENCRYPTION_KEY');
  } else if (config.env === 'production') {
    throw new ConfigError('Invalid configuration: ENCRYPTION_KEY: required when NODE_ENV=production');
  } else {
    current = await developmentKey(config.dataDir, logger);
  }
  return new SecretVault(new KeyRing(current, previous));
}
