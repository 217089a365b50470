/** The neutral notice, always shown: it never says whether anything was withheld. */
export function RestrictedNotice({ onBreakGlass }: { onBreakGlass?: () => void }) {
  return (
    <aside className="notice" aria-label="Privacy notice">
      <p>
        Some information may be restricted by the patient's privacy choices. In an emergency you can request access (break the glass).
      </p>
      {onBreakGlass && (
        <button type="button" className="danger" onClick={onBreakGlass}>Break the glass…</button>
      )}
    </aside>
  );
}
