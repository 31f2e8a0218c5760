export type { SecretBinding } from '../services.js';
export { createVault, DEV_KEY_FILE, type VaultConfig } from './key-source.js';
export { decodeKey, type EncryptionKey, isValidKeyEncoding, KEY_BYTES, KeyRing, keyIdOf, splitKeyList } from './key-ring.js';
export { type RotateOptions, type RotationReport, rotateSecrets } from './rotate.js';
export { SecretVault, SecretVaultError } from './vault.js';
