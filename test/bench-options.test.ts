import { describe, expect, it } from 'vitest';
import { parseOptions } from '../bench/options.js';

const nodesOf = (...args: string[]) => parseOptions(args, '/tmp/bench-results').profile.nodesPerOrganization;

describe('npm run bench options', () => {
  it('--nodes: W3 asks for that many integrations of each organization, at most as many as the seed has', () => {
    expect(nodesOf('--quick')).toBe(10);
    expect(nodesOf('--quick', '--nodes', '100')).toBe(100);
    expect(nodesOf('--nodes=500')).toBe(100);
    expect(nodesOf('--smoke', '--nodes', '50')).toBe(12);
    expect(() => nodesOf('--nodes', '0')).toThrow('--nodes must be a positive number');
    expect(() => nodesOf('--nodes')).toThrow('--nodes needs a value');
  });
});
