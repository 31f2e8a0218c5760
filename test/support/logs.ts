import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger.js';

/** Log lines captured in memory, as the gateway writes them (JSON, after redaction). */
export interface CapturedLogs {
  logger: Logger;
  text(): string;
  lines(): Record<string, any>[];
  clear(): void;
}

/** A logger at `level` whose lines stay in memory; give it to `createTestGateway({ logger })`. */
export function captureLogs(level = 'debug'): CapturedLogs {
  let chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ level, destination });
  return {
    logger,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line)),
    clear: () => {
      chunks = [];
    },
  };
}
