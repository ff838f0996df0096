// How daemon-owned sessions look in the Sessions view.

import { sessionPhase } from '../api/names';
import type { Session } from '../api/types';
import type { ItemModel } from '../forwards/view';

/** Whether a session's process still runs (or will, after reconnecting). */
export function isLive(s: Session): boolean {
  return ['SESSION_PHASE_STARTING', 'SESSION_PHASE_RUNNING', 'SESSION_PHASE_RECONNECTING'].includes(s.phase);
}

export function sessionItem(s: Session): ItemModel {
  const what = s.spec.command.length > 0 ? s.spec.command.join(' ') : '(attach)';
  const phase = sessionPhase(s.phase);
  const details = [
    { label: 'Target', description: s.spec.target },
    { label: 'Pod', description: s.pod ? `${s.pod}${s.container ? `/${s.container}` : ''}` : '(none)' },
    { label: 'Attached', description: String(s.attached) },
    { label: 'Output', description: `${s.output_bytes} bytes` },
  ];
  if (s.reason) {
    details.push({ label: 'Reason', description: s.reason });
  }
  return {
    id: `session:${s.id}`,
    label: `${s.id} ${what}`,
    description: [phase, s.pod].filter(Boolean).join(' · '),
    tooltip: [`${s.id}: ${phase}`, ...details.map((d) => `${d.label}: ${d.description}`)].join('\n'),
    contextValue: isLive(s) ? 'session-live' : 'session-ended',
    icon: isLive(s) ? 'terminal' : 'circle-slash',
    details,
  };
}
