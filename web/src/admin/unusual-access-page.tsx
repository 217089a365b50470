/** Unusual-access report for privacy officers: many people without a relationship, possible relatives, off-hours access. */
import { useState, type FormEvent } from 'react';
import { unusualAccess } from '../api/admin.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading } from '../components/status.tsx';
import { Field } from '../components/field.tsx';
import { TableScroll } from '../components/table-scroll.tsx';
import { dateText } from '../record/display.ts';

const day = (d: Date) => d.toISOString().slice(0, 10);

export function UnusualAccessPage() {
  const today = new Date();
  const [form, setForm] = useState({ from: day(new Date(today.getTime() - 30 * 86_400_000)), to: day(today), threshold: '20' });
  const [query, setQuery] = useState(form);
  const report = useAsync(() => unusualAccess(query.from, query.to, Number(query.threshold) || 1), [query]);
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    setQuery(form);
  };
  const r = report.data;
  return (
    <>
      <h1>Unusual access</h1>
      <form onSubmit={submit} className="inline-form">
        <Field label="From" type="date" required value={form.from} onChange={(e) => setForm({ ...form, from: e.target.value })} />
        <Field label="To" type="date" required value={form.to} onChange={(e) => setForm({ ...form, to: e.target.value })} />
        <Field label="People without a relationship, at least" type="number" min={1} required value={form.threshold} onChange={(e) => setForm({ ...form, threshold: e.target.value })} />
        <button type="submit" className="primary">Show</button>
      </form>
      {report.loading && <Loading what="the report" />}
      <ErrorMessage error={report.error} />
      {r && (
        <>
          <h2>Many people without a care relationship</h2>
          {r.manyPeople.length === 0 ? <p>Nobody viewed {r.threshold} or more people without a relationship.</p> : (
            <TableScroll label="Users who viewed many people without a relationship">
              <table className="data">
                <thead><tr><th scope="col">User</th><th scope="col">Organization</th><th scope="col">People</th><th scope="col">Accesses</th></tr></thead>
                <tbody>{r.manyPeople.map((m) => <tr key={m.agentUserId}><td>{m.agentName}</td><td>{m.agentOrg ?? ''}</td><td>{m.persons}</td><td>{m.events}</td></tr>)}</tbody>
              </table>
            </TableScroll>
          )}
          <h2>People sharing the user&apos;s family name or address</h2>
          {r.familiarPeople.length === 0 ? <p>No user viewed someone sharing their family name or address.</p> : (
            <TableScroll label="Users who viewed people sharing their family name or address">
              <table className="data">
                <thead><tr><th scope="col">User</th><th scope="col">Person</th><th scope="col">Shared</th><th scope="col">Accesses</th><th scope="col">Last</th></tr></thead>
                <tbody>{r.familiarPeople.map((f) => (
                  <tr key={`${f.agentUserId} ${f.personId}`}>
                    <td>{f.agentName}</td><td>{f.personId}</td>
                    <td>{[f.sharedFamilyName && 'family name', f.sharedAddress && 'address'].filter(Boolean).join(', ')}</td>
                    <td>{f.events}</td><td>{dateText(f.lastSeen)}</td>
                  </tr>
                ))}</tbody>
              </table>
            </TableScroll>
          )}
          <h2>Outside working hours ({r.workingHours.start}:00–{r.workingHours.end}:00 {r.workingHours.timeZone}{r.workingHours.weekendsOutside ? ', weekdays' : ''})</h2>
          {r.outsideWorkingHours.length === 0 ? <p>No access outside working hours.</p> : (
            <TableScroll label="Accesses outside working hours">
              <table className="data">
                <thead><tr><th scope="col">When</th><th scope="col">User</th><th scope="col">Action</th><th scope="col">People</th></tr></thead>
                <tbody>{r.outsideWorkingHours.map((o) => <tr key={o.seq}><td>{dateText(o.time)}</td><td>{o.agentName}</td><td>{o.action}</td><td>{o.personIds.join(', ')}</td></tr>)}</tbody>
              </table>
            </TableScroll>
          )}
        </>
      )}
    </>
  );
}
