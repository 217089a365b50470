// Union-find over auto-links: the persons a batch run produces.
export class UnionFind {
  private readonly parent: Int32Array;
  private readonly rank: Uint8Array;

  constructor(size: number) {
    this.parent = Int32Array.from({ length: size }, (_, i) => i);
    this.rank = new Uint8Array(size);
  }

  find(x: number): number {
    let root = x;
    while (this.parent[root] !== root) root = this.parent[root];
    // Path compression keeps later finds near O(1).
    while (this.parent[x] !== root) [x, this.parent[x]] = [this.parent[x], root];
    return root;
  }

  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    if (this.rank[ra] < this.rank[rb]) this.parent[ra] = rb;
    else if (this.rank[ra] > this.rank[rb]) this.parent[rb] = ra;
    else {
      this.parent[rb] = ra;
      this.rank[ra]++;
    }
  }
}

/** Cluster id (smallest member index) per record, from the linked pairs. */
export function clusterLinks(size: number, links: Iterable<readonly [number, number]>): number[] {
  const uf = new UnionFind(size);
  for (const [a, b] of links) uf.union(a, b);
  const smallest = new Map<number, number>();
  const roots = Array.from({ length: size }, (_, i) => uf.find(i));
  roots.forEach((root, i) => {
    if (!smallest.has(root)) smallest.set(root, i);
  });
  return roots.map((root) => smallest.get(root) ?? root);
}

export interface PairwiseMetrics {
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
  f1: number;
}

function pairsWithin(groups: Map<string, number>): number {
  let total = 0;
  for (const size of groups.values()) total += (size * (size - 1)) / 2;
  return total;
}

function groupSizes(keys: string[]): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const k of keys) sizes.set(k, (sizes.get(k) ?? 0) + 1);
  return sizes;
}

/** Pairwise precision/recall of predicted clusters against truth clusters (counted, not enumerated). */
export function pairwiseMetrics(predicted: ReadonlyArray<number | string>, truth: ReadonlyArray<number | string>): PairwiseMetrics {
  const predictedPairs = pairsWithin(groupSizes(predicted.map(String)));
  const truePairs = pairsWithin(groupSizes(truth.map(String)));
  const tp = pairsWithin(groupSizes(predicted.map((p, i) => `${p}\u0000${truth[i]}`)));
  const precision = predictedPairs === 0 ? 1 : tp / predictedPairs;
  const recall = truePairs === 0 ? 1 : tp / truePairs;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { truePositives: tp, falsePositives: predictedPairs - tp, falseNegatives: truePairs - tp, precision, recall, f1 };
}
