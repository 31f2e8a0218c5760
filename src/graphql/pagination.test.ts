import { describe, expect, it } from 'vitest';
import { encodeCursor, parsePageArgs } from './pagination.js';

const ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

/** What a cursor is: the base64url of `[scope, key, id]` as JSON, whichever way it was put together. */
const general = (scope: string, key: string, id: string) => Buffer.from(JSON.stringify([scope, key, id])).toString('base64url');

describe('encodeCursor', () => {
  it('writes the same bytes for every scope and key, plain ASCII or not, and they read back as the position', () => {
    const keys = [
      '2026-01-31 12:00:00.123456+00',
      '-infinity',
      'acme production',
      '',
      'say "hi"',
      'back\\slash',
      'tab\there',
      'line\nbreak',
      '\u007f delete',
      'Zürich',
      '東京',
      'emoji 🚀',
      '~!#$%&()*+,-./:;<=>?@[]^_`{|}',
    ];
    for (const scope of ['integrations:DISPLAY_NAME:ASC', 'healthChecks', 'a "quoted" scope', 'scöpe', 'tab\tscope']) {
      for (const key of keys) {
        const cursor = encodeCursor(scope, { key, id: ID });
        expect(cursor, `${scope} ${key}`).toBe(general(scope, key, ID));
        expect(parsePageArgs({ first: 1, after: cursor }, scope).cursor, `${scope} ${key}`).toEqual({ key, id: ID });
      }
    }
  });

  it('a cursor of another scope is refused', () => {
    const cursor = encodeCursor('integrations:CREATED_AT:DESC', { key: '2026-01-31 12:00:00+00', id: ID });
    expect(() => parsePageArgs({ first: 1, after: cursor }, 'integrations:CREATED_AT:ASC')).toThrow(/not valid for this list/);
  });
});
