import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { printSchemaSDL } from '../src/graphql/schema.js';
import { projectRoot } from './support/process.js';

describe('schema.graphql', () => {
  it('is exactly what the code prints (run `npm run schema:print` after changing the API)', async () => {
    const committed = await readFile(path.join(projectRoot, 'schema.graphql'), 'utf8');
    expect(committed).toBe(printSchemaSDL());
  });
});
