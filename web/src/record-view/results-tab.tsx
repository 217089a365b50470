/** Results tab: a trend chart for the chosen analyte, then the full results table. */
import { useId, useState } from 'react';
import type { Observation } from '@medplum/fhirtypes';
import { labSeries } from '../record/lab-series.ts';
import { TrendChart } from '../components/trend-chart.tsx';
import { ResultsTable } from './results-table.tsx';

export function ResultsTab({ labs }: { labs: Observation[] }) {
  const series = labSeries(labs);
  const [chosen, setChosen] = useState(series[0]?.key ?? '');
  const selectId = useId();
  const current = series.find((s) => s.key === chosen) ?? series[0];
  return (
    <div>
      <h3>Trend</h3>
      {current ? (
        <>
          <div className="field inline">
            <label htmlFor={selectId}>Test to chart</label>
            <select id={selectId} value={current.key} onChange={(e) => setChosen(e.target.value)}>
              {series.map((s) => (
                <option key={s.key} value={s.key}>{`${s.name} (${s.points.length})`}</option>
              ))}
            </select>
          </div>
          <TrendChart series={current} />
        </>
      ) : (
        <p className="muted">No numeric results to chart.</p>
      )}
      <h3>All results</h3>
      <ResultsTable items={labs} />
    </div>
  );
}
