import { describe, expect, it } from 'vitest';
import { clusterLinks, pairwiseMetrics, UnionFind } from './cluster.ts';

describe('clustering and pairwise metrics', () => {
  it('unions transitively', () => {
    const uf = new UnionFind(5);
    uf.union(0, 1);
    uf.union(1, 2);
    expect(uf.find(2)).toBe(uf.find(0));
    expect(uf.find(3)).not.toBe(uf.find(0));
    expect(clusterLinks(5, [[3, 4], [1, 2], [0, 1]])).toEqual([0, 0, 0, 3, 3]);
  });

  it('counts pairwise TP, FP and FN from clusters', () => {
    // predicted {0,1,2} {3} ; truth {0,1} {2,3}
    const m = pairwiseMetrics([0, 0, 0, 3], ['a', 'a', 'b', 'b']);
    expect(m).toMatchObject({ truePositives: 1, falsePositives: 2, falseNegatives: 1 });
    expect(m.precision).toBeCloseTo(1 / 3);
    expect(m.recall).toBeCloseTo(1 / 2);
    expect(pairwiseMetrics([0, 1], ['a', 'b'])).toMatchObject({ precision: 1, recall: 1 });
  });
});
