import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

export interface LoadResult {
  rps: number;
  total: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface LoadSpec {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  duration: number;
  connections: number;
}

const CANNON = resolve(process.cwd(), 'bench/http/cannon.mjs');

/** Runs autocannon in a child process against `spec.url`. */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const options = { url: spec.url, method: spec.method ?? 'GET', headers: spec.headers, body: spec.body, duration: spec.duration, connections: spec.connections };
  return new Promise((done, fail) => {
    execFile(process.execPath, [CANNON, JSON.stringify(options)], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return fail(new Error(`autocannon failed: ${stderr.slice(0, 500)}`));
      try {
        done(JSON.parse(stdout) as LoadResult);
      } catch {
        fail(new Error(`autocannon printed no result: ${stdout.slice(0, 200)} ${stderr.slice(0, 300)}`));
      }
    });
  });
}

/** Peak resident memory of this process (server + in-process database) while `fn` runs. */
export class MemorySampler {
  peak = 0;
  private timer: NodeJS.Timeout | undefined;

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 200);
    this.timer.unref();
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }

  private sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
  }
}
