/** Shown while emergency access is active, with the time it ends. */
import { dateText } from '../record/display.ts';

export function BreakGlassBanner({ expires }: { expires?: string }) {
  return (
    <div className="banner danger-banner" role="status" aria-live="polite">
      <strong>Emergency access (break the glass) is active.</strong>{' '}
      {expires ? `It ends at ${dateText(expires)}.` : 'It ends after 4 hours.'} Every view is recorded and reviewed by the privacy officer.
    </div>
  );
}
