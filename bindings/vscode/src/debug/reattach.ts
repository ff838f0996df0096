// The re-attach decision: when a debug session ends, was it the forward's doing (re-attach) or
// the user's (leave it)? A pure function of the session's end and its forward's recent signals.

import type { Policy } from './block';

/** How close a tunnel signal and a session's end must be to be related, by default. */
export const WINDOW_MS = 5_000;

/** Something that happened to a forward, stamped with the extension's clock. */
export interface Signal {
  kind: 'tunnel-down' | 'pod-changed' | 'failed';
  at: number;
  /** The pod that went away (tunnel down, pod changed); empty for `failed`. */
  pod: string;
  /** The daemon's reason, or the new pod. */
  detail: string;
}

export interface DecisionInput {
  policy: Policy;
  /** When the session started, and the pod it attached to (empty when unknown). */
  startedAt: number;
  sessionPod: string;
  /** When the session ended. */
  endedAt: number;
  now: number;
  /** The forward's recent signals, in any order. */
  signals: readonly Signal[];
  /** The user asked the debugger to stop (a `disconnect` or `terminate` before the adapter ended). */
  userStopped: boolean;
  windowMs: number;
}

export type Decision =
  | { action: 'reattach'; cause: Signal }
  | { action: 'prompt'; cause: Signal }
  | { action: 'error'; message: string }
  | { action: 'wait'; until: number }
  | { action: 'none'; why: string };

/**
 * - A user's stop never re-attaches.
 * - A Failed forward within the window does not re-attach, but is an error to show.
 * - A tunnel down or a pod change within the window (before or after the end) re-attaches per
 *   policy: `auto` at once (once Ready), `prompt` after asking, `off` never. So does the loss of
 *   the session's own pod at any time after the session started: a debuggee can outlive its
 *   deletion by its termination grace period (node waits for an attached debugger to
 *   disconnect), so its session ends long after the TunnelDown.
 * - With none yet, wait until the window has passed: the daemon's event may still come.
 * - After the window, nothing related happened: the session ended on its own.
 */
export function decide(input: DecisionInput): Decision {
  if (input.userStopped) {
    return { action: 'none', why: 'the user stopped the session' };
  }
  const near = (s: Signal): boolean => Math.abs(s.at - input.endedAt) <= input.windowMs;
  const ownPodLost = (s: Signal): boolean =>
    s.kind !== 'failed' && s.pod !== '' && s.pod === input.sessionPod && s.at >= input.startedAt && s.at <= input.endedAt;
  const related = input.signals.filter((s) => s.at <= input.now && (near(s) || ownPodLost(s))).sort((a, b) => a.at - b.at);
  const failed = related.find((s) => s.kind === 'failed');
  if (failed) {
    return { action: 'error', message: `its forward failed: ${failed.detail}; not re-attaching` };
  }
  const cause = related.find((s) => s.kind === 'tunnel-down' || s.kind === 'pod-changed');
  if (cause) {
    switch (input.policy) {
      case 'auto':
        return { action: 'reattach', cause };
      case 'prompt':
        return { action: 'prompt', cause };
      case 'off':
        return { action: 'none', why: 're-attach is off' };
    }
  }
  const until = input.endedAt + input.windowMs;
  if (input.now < until) {
    return { action: 'wait', until };
  }
  return { action: 'none', why: 'no tunnel event near the end of the session' };
}
