/**
 * Summarizes a V8 CPU profile written by `npm run bench -- --cpu-prof DIR`: the share of busy samples
 * (idle excluded) spent in each package or part of the gateway, and the functions with the most self
 * time. With `--inclusive a,b`, also the time spent in each named function and everything it called
 * synchronously (a function that awaits is counted up to its first await, and again in each continuation).
 * Usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [--top N] [--inclusive name,...]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Which package, or which part of the gateway, a frame's script belongs to. */
function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:'))
    return url
      .replace(/^node:(internal\/)?/, 'node:')
      .split('/')
      .slice(0, 2)
      .join('/');
  const inModules = url.lastIndexOf('node_modules/');
  if (inModules >= 0) {
    const parts = url.slice(inModules + 'node_modules/'.length).split('/');
    return (parts[0] as string).startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string);
  }
  const inSource = url.search(/\/(src|dist\/src)\//);
  return inSource >= 0 ? url.slice(inSource + 1).replace(/^dist\//, '') : url;
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((a, i) => !a.startsWith('--') && !['--top', '--inclusive'].includes(args[i - 1] ?? ''));
  const topIndex = args.indexOf('--top');
  const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 40;
  const inclusiveIndex = args.indexOf('--inclusive');
  const inclusiveNames = inclusiveIndex >= 0 ? (args[inclusiveIndex + 1] ?? '').split(',').filter(Boolean) : [];
  if (!file) throw new Error('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [--top N]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfTime = new Map<number, number>();
  for (const [index, id] of profile.samples.entries()) selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));

  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, micros] of selfTime) {
    const { functionName, url, lineNumber } = (byId.get(id) as ProfileNode).callFrame;
    if (functionName === '(idle)') continue;
    busy += micros;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + micros);
    const key = `${functionName || '(anonymous)'}  ${area}:${lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + micros);
  }
  const print = (title: string, entries: Map<string, number>) => {
    process.stdout.write(`\n${title}\n`);
    for (const [name, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`${((100 * micros) / busy).toFixed(1).padStart(6)}%  ${name}\n`);
    }
  };
  process.stdout.write(`busy ${(busy / 1e6).toFixed(2)} s of samples\n`);
  print('Self time by area (share of busy time)', areas);
  print('Self time by function', functions);
  if (inclusiveNames.length > 0) {
    // Each sample counts once per named function on its stack, however deeply that function recurses.
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    const inclusive = new Map<string, number>(inclusiveNames.map((name) => [name, 0]));
    for (const [id, micros] of selfTime) {
      if ((byId.get(id) as ProfileNode).callFrame.functionName === '(idle)') continue;
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const name = (byId.get(at) as ProfileNode).callFrame.functionName;
        if (inclusive.has(name) && !seen.has(name)) {
          seen.add(name);
          inclusive.set(name, (inclusive.get(name) ?? 0) + micros);
        }
      }
    }
    print('Inclusive time of the named functions', inclusive);
  }
}

main();
