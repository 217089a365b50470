/** Search form plus results; the query lives in the URL so Back returns to the same results. */
import { searchPatients, type PatientQuery } from '../api/fhir.ts';
import { navigate, useLocation } from '../router.tsx';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { SearchForm } from './search-form.tsx';
import { PersonResults } from './person-results.tsx';

const KEYS: (keyof PatientQuery)[] = ['family', 'given', 'birthdate', 'gender', 'identifier'];

function queryFrom(search: URLSearchParams): PatientQuery {
  return Object.fromEntries(KEYS.flatMap((k) => (search.get(k) ? [[k, search.get(k) as string]] : [])));
}

export function PatientSearch({ hrefFor, actionLabel }: { hrefFor: (id: string) => string; actionLabel?: string }) {
  const loc = useLocation();
  const query = queryFrom(loc.search);
  const hasQuery = Object.keys(query).length > 0;
  const key = JSON.stringify(query);
  const results = useAsync(() => (hasQuery ? searchPatients(query) : Promise.resolve(undefined)), [key]);
  const onSearch = (q: PatientQuery): void => {
    const params = new URLSearchParams(Object.entries(q).filter(([, v]) => v && v.trim()) as [string, string][]);
    navigate(`${loc.path}?${params.toString()}`);
  };
  return (
    <>
      <SearchForm key={key} initial={query} onSearch={onSearch} />
      {results.loading && hasQuery && <Loading what="patients" />}
      <ErrorMessage error={results.error} />
      {results.data && (
        <>
          <StatusMessage message={`${results.data.length} source record${results.data.length === 1 ? '' : 's'} found.`} />
          <PersonResults patients={results.data} hrefFor={hrefFor} actionLabel={actionLabel} />
        </>
      )}
    </>
  );
}
