import pino, { type Logger } from 'pino';

export type { Logger };

/** Names of properties that hold credentials, whatever object they appear in. */
const SECRET_NAMES = [
  'authorization',
  'cookie',
  'key',
  'secret',
  'token',
  'password',
  'credentials',
  'accessToken',
  'refreshToken',
  'access_token',
  'refresh_token',
  'clientSecret',
  'client_secret',
  'webhookSigningSecret',
  'codeVerifier',
  'code_verifier',
  'ciphertext',
  'secret_ciphertext',
  'variables',
];

/**
 * Paths redacted from every log line, wherever a caller puts them (up to three levels deep, e.g.
 * `req.headers.authorization`): credentials must never reach a log even when an object is logged whole.
 */
export const REDACTED_PATHS = SECRET_NAMES.flatMap((name) => [name, `*.${name}`, `*.*.${name}`]);

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'integrations-gateway' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
