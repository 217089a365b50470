/** Messages per minute by source and type: a compact table of the last minutes plus totals. */
import type { IngestStats } from '../api/types.ts';
import { TableScroll } from '../components/table-scroll.tsx';

interface Row {
  key: string;
  source: string;
  type: string;
  counts: Map<string, number>;
  total: number;
}

function pivot(stats: IngestStats, minutes: string[]): Row[] {
  const rows = new Map<string, Row>();
  for (const m of stats.perMinute) {
    if (!minutes.includes(m.minute)) continue;
    const key = `${m.source}§${m.type}`;
    const row = rows.get(key) ?? { key, source: m.source, type: m.type, counts: new Map(), total: 0 };
    row.counts.set(m.minute, (row.counts.get(m.minute) ?? 0) + m.count);
    row.total += m.count;
    rows.set(key, row);
  }
  return [...rows.values()].sort((a, b) => b.total - a.total);
}

export function IngestStatsView({ stats }: { stats: IngestStats }) {
  const minutes = [...new Set(stats.perMinute.map((m) => m.minute))].sort().slice(-6);
  const rows = pivot(stats, minutes);
  return (
    <section aria-labelledby="stats-h">
      <h2 id="stats-h">Messages per minute</h2>
      <dl className="totals">
        <div><dt>Accepted</dt><dd>{stats.totals.accepted}</dd></div>
        <div><dt>Errors</dt><dd>{stats.totals.errors}</dd></div>
        <div><dt>Discarded (opted out)</dt><dd>{stats.totals.discarded}</dd></div>
        <div><dt>Superseded (older than stored results)</dt><dd>{stats.totals.superseded}</dd></div>
      </dl>
      {rows.length === 0 ? <p>No messages in the last minutes.</p> : (
        <TableScroll label="Messages per minute">
          <table className="data">
            <caption className="visually-hidden">Messages per minute by source and type</caption>
            <thead>
              <tr>
                <th scope="col">Source</th><th scope="col">Type</th>
                {minutes.map((m) => <th scope="col" key={m}>{m.slice(11, 16) || m}</th>)}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.key}>
                  <th scope="row">{r.source}</th><td>{r.type}</td>
                  {minutes.map((m) => <td key={m} className="num">{r.counts.get(m) ?? 0}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </section>
  );
}
