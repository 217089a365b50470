/** A horizontally scrollable table wrapper that keyboard users can focus and scroll (WCAG 2.1.1). */
import type { ReactNode } from 'react';

export function TableScroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-scroll" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
