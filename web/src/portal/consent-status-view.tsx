/** The patient's current privacy choices in plain words, with dates. */
import type { ConsentStatus, SensitiveCategory } from '../api/types.ts';
import { dateText } from '../record/display.ts';
import { CATEGORY_NAMES } from './consent-texts.ts';

const CATEGORIES: SensitiveCategory[] = ['PSY', 'HIV', 'ETH'];

export function ConsentStatusView({ status }: { status: ConsentStatus }) {
  return (
    <section className="card" aria-labelledby="status-heading">
      <h2 id="status-heading">Your choices right now</h2>
      <dl className="pairs">
        <div>
          <dt>Sharing</dt>
          <dd data-testid="sharing-status">
            {status.optedOut
              ? `You opted out${status.optedOutAt ? ` on ${dateText(status.optedOutAt)}` : ''}. Your health information is not shared.`
              : `Your health information is shared${status.optInDate ? ` (from visits on or after ${dateText(status.optInDate)})` : ''}.`}
          </dd>
        </div>
        {!status.optedOut && CATEGORIES.map((c) => (
          <div key={c}>
            <dt>{CATEGORY_NAMES[c][0].toUpperCase() + CATEGORY_NAMES[c].slice(1)}</dt>
            <dd>{status.shared.includes(c) ? 'Shared with the people who care for you' : 'Kept private (seen only in an emergency)'}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
