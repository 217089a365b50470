/** The 403 state: no care relationship yet. Offers attestation, or break-the-glass in an emergency. */
export function NoRelationship({ expired, onAttest, onBreakGlass }: { expired: boolean; onAttest: () => void; onBreakGlass: () => void }) {
  return (
    <section className="card" aria-labelledby="no-rel-heading">
      <h2 id="no-rel-heading">{expired ? 'Your care relationship has ended' : 'No care relationship on record'}</h2>
      <p>
        Your organization has no current care relationship with this patient, so their health information is not shown.
        If you are treating this patient, you can attest to a treatment relationship. It lasts 30 days and is reviewed by the privacy officer.
      </p>
      <div className="actions">
        <button type="button" className="primary" onClick={onAttest}>Attest to a treatment relationship…</button>
        <button type="button" className="danger" onClick={onBreakGlass}>Emergency: break the glass…</button>
      </div>
    </section>
  );
}
