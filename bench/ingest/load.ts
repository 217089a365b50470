import { performance } from 'node:perf_hooks';
import { ackOf, MllpClient } from './mllp-client.ts';

export interface LoadResult {
  messages: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** ACK codes other than AA, by code (should be empty). */
  refused: Record<string, number>;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * `senders` connections, each sending one message and waiting for its ACK before the next (how MLLP senders
 * behave), until the duration is over. Latency = frame written → ACK frame received.
 */
export async function runLoad(port: number, senders: number, durationMs: number, next: () => string): Promise<LoadResult> {
  const latencies: number[] = [];
  const refused: Record<string, number> = {};
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      const client = await MllpClient.connect(port);
      try {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          const ack = ackOf(await client.send(next(), 120_000));
          latencies.push(performance.now() - t0);
          if (ack.code !== 'AA') refused[ack.code] = (refused[ack.code] ?? 0) + 1;
        }
      } finally {
        client.close();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { messages: latencies.length, seconds, perSecond: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), refused };
}
