import type { Database, Queryable, Statement } from '../store/database.ts';

/** What one read-only access came to inside a shared transaction: a value or a refusal, and what to audit. */
export type GroupedOutcome<T, R> = { value: T; records: R[] } | { error: unknown; records: R[] };

/** One read-only access, runnable alone or inside a group's transaction. */
export interface GroupJob<T, R> {
  /** By itself, auditing itself (used when the group would hold only this access, or when its transaction failed). */
  alone(): Promise<T>;
  /**
   * Inside the group's transaction: its work, and the audit records of what it delivered or refused. Throws only for
   * failures that may have aborted the transaction (a failed statement): then the whole group runs again alone.
   */
  inGroup(tx: Queryable): Promise<GroupedOutcome<T, R>>;
}

export interface GroupLimits {
  /** Groups in flight at once (each holds one connection). */
  groups: number;
  /** Accesses per group at most. */
  size: number;
}

interface Pending<T, R> {
  job: GroupJob<T, R>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * Group commit for read-only accesses. Concurrent reads that arrive while `limits.groups` groups are running wait,
 * and the next group takes all of them: one transaction runs the accesses' statements (all at once: pipelined on
 * PostgreSQL), appends every access's audit records with one statement, and commits once (`Database.readThenWrite`:
 * on PostgreSQL two round trips for the group, its reads and its append); answers are released only
 * after that commit. Each access and its audit record are still in the same transaction (privacy-rules §6) and
 * nothing is delivered that was not recorded, but the per-access costs of an append (the insert statement, the
 * commit) are paid once per group: measured on PostgreSQL they were most of an audited read's database time.
 * Without concurrency a group holds one access and it simply runs alone.
 */
export class ReadGroups<R> {
  private readonly queue: Array<Pending<unknown, R>> = [];
  private active = 0;

  constructor(
    private readonly db: Database,
    /** The statements that append the records (run last in the group's transaction). */
    private readonly append: (records: R[]) => Statement[],
    private readonly limits: GroupLimits,
  ) {}

  run<T>(job: GroupJob<T, R>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ job, resolve, reject } as Pending<unknown, R>);
      this.start();
    });
  }

  private start(): void {
    while (this.active < this.limits.groups && this.queue.length > 0) {
      const group = this.queue.splice(0, this.limits.size);
      this.active += 1;
      void this.runGroup(group).finally(() => {
        this.active -= 1;
        this.start();
      });
    }
  }

  private async runGroup(group: Array<Pending<unknown, R>>): Promise<void> {
    if (group.length === 1) return settle(group[0], group[0].job.alone());
    let outcomes: Array<GroupedOutcome<unknown, R>>;
    try {
      outcomes = await this.db.readThenWrite(async (tx) => {
        // All at once: on PostgreSQL the connection pipelines their statements (one round trip for the group's reads
        // instead of one each, BEGIN going out with them); every access settles before the group appends or gives up.
        const settled = await Promise.allSettled(group.map((p) => p.job.inGroup(tx)));
        const failed = settled.find((s) => s.status === 'rejected');
        if (failed) throw failed.reason;
        const done = settled.map((s) => (s as PromiseFulfilledResult<GroupedOutcome<unknown, R>>).value);
        // The append goes out with COMMIT right behind it: one more round trip for the whole group.
        return { value: done, final: this.append(done.flatMap((d) => d.records)) };
      });
    } catch {
      // Nothing of the group was committed (nor delivered): each access runs again by itself, and one that fails
      // again fails alone, audited as any failed access is.
      await Promise.all(group.map((p) => settle(p, p.job.alone())));
      return;
    }
    group.forEach((p, i) => {
      const outcome = outcomes[i];
      if ('error' in outcome) p.reject(outcome.error);
      else p.resolve(outcome.value);
    });
  }
}

async function settle<T, R>(p: Pending<T, R>, result: Promise<T>): Promise<void> {
  try {
    p.resolve(await result);
  } catch (err) {
    p.reject(err);
  }
}
