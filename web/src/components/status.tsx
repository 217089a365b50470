/** Status and error messages, announced to screen readers through live regions. */
import { errorText } from '../api/errors.ts';

export function StatusMessage({ message }: { message?: string }) {
  return (
    <p className="status" role="status" aria-live="polite">
      {message ?? ''}
    </p>
  );
}

export function ErrorMessage({ error }: { error?: unknown }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {errorText(error)}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}
