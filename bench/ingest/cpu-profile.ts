/**
 * An in-process CPU profile (node:inspector) summarised as the functions with the most self time, for the profile
 * scripts' `--cpu` flag. Only the measured section is sampled; `CPU_TOP=n` lists n files and functions.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { SourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

export interface CpuProfiler {
  stop(): Promise<string[]>;
}

const maps = new Map<string, SourceMap | undefined>();

/** Minified libraries (@medplum/core) ship source maps: name their functions by the original source position. */
function original(url: string, line: number, column: number): string | undefined {
  if (!url.startsWith('file://')) return undefined;
  if (!maps.has(url)) {
    const file = `${fileURLToPath(url)}.map`;
    maps.set(url, existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]) : undefined);
  }
  const entry = maps.get(url)?.findEntry(line, column);
  return entry && 'originalSource' in entry ? `${entry.originalSource.replace(/^.*\/src\//, 'src/')}:${entry.originalLine + 1}` : undefined;
}

const ROOT = `${pathToFileURL(process.cwd()).href}/`;
const short = (url: string) => url.replace(ROOT, '').replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '');

export async function startCpuProfile(): Promise<CpuProfiler> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    async stop(): Promise<string[]> {
      const { profile } = (await session.post('Profiler.stop')) as { profile: Profile };
      session.disconnect();
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      const parent = new Map<number, number>();
      for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
      const keyOf = new Map<number, string>();
      const self = new Map<string, number>();
      const inclusive = new Map<string, number>();
      const byFile = new Map<string, number>();
      let total = 0;
      profile.samples?.forEach((id, i) => {
        const node = byId.get(id);
        const dt = profile.timeDeltas?.[i] ?? 0;
        if (!node) return;
        const { functionName, url, lineNumber, columnNumber } = node.callFrame;
        const file = short(url) || '(native)';
        const key = `${functionName || '(anonymous)'} ${original(url, lineNumber, columnNumber) ?? `${file}:${lineNumber + 1}`}`;
        self.set(key, (self.get(key) ?? 0) + dt);
        // Inclusive time of this project's functions (each counted once per sample, however deep the recursion),
        // without time in writev: on this VM a socket write is where the thread loses the CPU to PostgreSQL.
        if (functionName === 'writev') return;
        const onStack = new Set<string>();
        for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
          const frame = byId.get(at)!.callFrame;
          if (!frame.url.startsWith(`${ROOT}src/`)) continue;
          const k = keyOf.get(at) ?? `${frame.functionName || '(anonymous)'} ${short(frame.url)}:${frame.lineNumber + 1}`;
          keyOf.set(at, k);
          onStack.add(k);
        }
        for (const k of onStack) inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
        byFile.set(file, (byFile.get(file) ?? 0) + dt);
        total += dt;
      });
      const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
        .map(([k, us]) => `  ${(us / 1000).toFixed(0).padStart(6)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
      return [`self time by function (${(total / 1000).toFixed(0)} ms sampled):`, ...top(self, 40), 'self time by file:', ...top(byFile, Number(process.env.CPU_TOP ?? 30)), 'inclusive time of src/ functions (writev excluded):', ...top(inclusive, Number(process.env.CPU_TOP ?? 50))];
    },
  };
}
