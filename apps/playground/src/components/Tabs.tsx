import type { KeyboardEvent } from 'react';

export type Tab = 'generate' | 'explorer';

export const TABS: readonly { readonly id: Tab; readonly label: string }[] = [
  { id: 'generate', label: 'Generate' },
  { id: 'explorer', label: 'Explorer' },
];

export const tabFromHash = (): Tab => (location.hash === '#explorer' ? 'explorer' : 'generate');

/** The page's sections, as ARIA tabs: arrows, Home and End move between them. */
export function Tabs({ tab, onTab }: { tab: Tab; onTab: (tab: Tab) => void }) {
  const onKeyDown = (event: KeyboardEvent<HTMLButtonElement>) => {
    const index = TABS.findIndex((candidate) => candidate.id === tab);
    let next: number;
    if (event.key === 'ArrowRight') next = (index + 1) % TABS.length;
    else if (event.key === 'ArrowLeft') next = (index - 1 + TABS.length) % TABS.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = TABS.length - 1;
    else return;
    event.preventDefault();
    const target = TABS[next];
    if (!target) return;
    onTab(target.id);
    document.getElementById(`tab-${target.id}`)?.focus();
  };
  return (
    <div className="tabs" role="tablist" aria-label="Playground sections">
      {TABS.map((candidate) => (
        <button
          key={candidate.id}
          type="button"
          role="tab"
          id={`tab-${candidate.id}`}
          className="tab"
          aria-selected={tab === candidate.id}
          aria-controls={`panel-${candidate.id}`}
          tabIndex={tab === candidate.id ? 0 : -1}
          onClick={() => onTab(candidate.id)}
          onKeyDown={onKeyDown}
        >
          {candidate.label}
        </button>
      ))}
    </div>
  );
}
