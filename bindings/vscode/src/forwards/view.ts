// How forwards look: tree items and the status bar, as plain data that extension.ts hands to VS Code.

import { phaseName, reasonName } from '../api/names';
import type { Forward } from '../api/types';

/** A tree item, minus VS Code. */
export interface ItemModel {
  id: string;
  label: string;
  description: string;
  tooltip: string;
  /** For menus: `forward-ready`, `forward-paused`, ... */
  contextValue: string;
  /** A codicon name. */
  icon: string;
  /** Detail rows shown under the forward. */
  details: { label: string; description: string }[];
}

const ICONS: Record<string, string> = {
  PHASE_READY: 'pass',
  PHASE_PENDING: 'loading~spin',
  PHASE_CONNECTING: 'loading~spin',
  PHASE_RECONNECTING: 'warning',
  PHASE_PAUSED: 'debug-pause',
  PHASE_FAILED: 'error',
};

/** One forward as a tree item. */
export function forwardItem(f: Forward): ItemModel {
  const s = f.status;
  const state = phaseName(s.phase);
  const local = s.local_addresses.join(', ');
  const why = s.reason ? `${reasonName(s.reason_kind)}: ${s.reason}` : '';
  const details = [
    { label: 'Target', description: `${f.spec.target} ${f.spec.ports.join(' ')}`.trim() },
    { label: 'Namespace', description: f.spec.namespace || '(default)' },
    { label: 'Pod', description: s.pod || '(none)' },
    { label: 'Local', description: local || '(none)' },
    { label: 'Reconnects', description: String(f.stats.reconnects) },
  ];
  if (why) {
    details.push({ label: 'Reason', description: why });
  }
  return {
    id: `forward:${f.spec.name}`,
    label: f.spec.name,
    description: [state, s.pod, local].filter(Boolean).join(' · '),
    tooltip: [
      `${f.spec.name}: ${state}${s.attempt && s.phase === 'PHASE_RECONNECTING' ? ` (attempt ${s.attempt})` : ''}`,
      ...details.map((d) => `${d.label}: ${d.description}`),
    ].join('\n'),
    contextValue: `forward-${state.toLowerCase()}`,
    icon: ICONS[s.phase] ?? 'circle-outline',
    details,
  };
}

/** The first local address as a URL to open in a browser. */
export function browserUrl(f: Forward): string | undefined {
  const local = f.status.local_addresses[0];
  return local ? `http://${local}/` : undefined;
}

/** The status bar item. */
export interface StatusModel {
  text: string;
  tooltip: string;
  warning: boolean;
}

/** `Tether 2/3` with Ready over all; a warning while any is Reconnecting or Failed. */
export function statusBar(forwards: Forward[], connected: boolean): StatusModel {
  if (!connected) {
    return { text: '$(debug-disconnect) Tether', tooltip: 'tetherd is not running or not reachable', warning: false };
  }
  const ready = forwards.filter((f) => f.status.phase === 'PHASE_READY').length;
  const troubled = forwards.filter((f) => f.status.phase === 'PHASE_RECONNECTING' || f.status.phase === 'PHASE_FAILED');
  const warning = troubled.length > 0;
  const lines = [`${ready} of ${forwards.length} forwards Ready`];
  for (const f of troubled) {
    lines.push(`${f.spec.name}: ${phaseName(f.status.phase)}${f.status.reason ? ` (${f.status.reason})` : ''}`);
  }
  return {
    text: `${warning ? '$(warning)' : '$(plug)'} Tether ${ready}/${forwards.length}`,
    tooltip: lines.join('\n'),
    warning,
  };
}
