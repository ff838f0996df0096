// Re-attach, the moving parts: which forward each debug session uses, the forwards' recent
// signals, and what to do when a session ends. The decision itself is `decide` (reattach.ts);
// everything that touches VS Code or the daemon is passed in.

import { messageOf } from '../api/errors';
import { reasonName } from '../api/names';
import type { Event, Forward } from '../api/types';
import type { Policy } from './block';
import { decide, WINDOW_MS, type Decision, type Signal } from './reattach';

/** A debug session started from a configuration with a `tether` block. */
export interface Tracked {
  sessionId: string;
  forward: string;
  policy: Policy;
  /** The configuration as the user wrote it (with its `tether` block), to start again. */
  config: Record<string, unknown>;
  /** Where it was started (a workspace folder), passed back to `start`. */
  folder: unknown;
  /** The pod serving when the configuration was resolved. */
  pod: string;
}

export interface ReattachDeps {
  now(): number;
  /** Runs `fn` after `ms`; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
  /** Resolves when `forward` is Ready after `since`. */
  waitReady(forward: string, since: number, timeoutMs: number): Promise<Forward>;
  start(session: Tracked): Promise<void>;
  /** Asks the user; resolves true to re-attach. */
  ask(message: string): Promise<boolean>;
  error(message: string): void;
  log(message: string): void;
  /** Told every final decision (tests and measurements). */
  decided?(session: Tracked, decision: Decision): void;
}

/** How long signals are kept. */
const KEEP_MS = 60_000;
/** How long a re-attach waits for the forward to be Ready again. */
export const READY_MS = 120_000;

interface Ended {
  session: Tracked;
  startedAt: number;
  endedAt: number;
  userStopped: boolean;
  cancel?: () => void;
}

export class Reattacher {
  private readonly sessions = new Map<string, { session: Tracked; startedAt: number }>();
  private readonly stopping = new Set<string>();
  private readonly signals = new Map<string, Signal[]>();
  private readonly pods = new Map<string, string>();
  private readonly ended = new Map<string, Ended>();

  constructor(
    private readonly deps: ReattachDeps,
    private readonly windowMs = WINDOW_MS,
  ) {}

  /** A session with a `tether` block started. */
  track(session: Tracked): void {
    this.sessions.set(session.sessionId, { session, startedAt: this.deps.now() });
  }

  /** The user asked the session's debugger to stop (a `disconnect` or `terminate` request). */
  userStopping(sessionId: string): void {
    if (this.sessions.has(sessionId)) {
      this.stopping.add(sessionId);
    }
  }

  /** An event from WatchEvents. */
  event(event: Event): void {
    const signal = this.signalOf(event);
    if (!signal) {
      return;
    }
    const now = this.deps.now();
    const kept = (this.signals.get(event.forward) ?? []).filter((s) => now - s.at < KEEP_MS);
    kept.push(signal);
    this.signals.set(event.forward, kept);
    for (const [id, e] of this.ended) {
      if (e.session.forward === event.forward) {
        this.decideFor(id);
      }
    }
  }

  /** A session ended. */
  sessionEnded(sessionId: string): void {
    const started = this.sessions.get(sessionId);
    if (!started) {
      return;
    }
    this.sessions.delete(sessionId);
    const userStopped = this.stopping.delete(sessionId);
    this.ended.set(sessionId, { ...started, endedAt: this.deps.now(), userStopped });
    this.decideFor(sessionId);
  }

  /** Sessions being watched, for tests. */
  get tracking(): number {
    return this.sessions.size + this.ended.size;
  }

  private signalOf(event: Event): Signal | undefined {
    const at = this.deps.now();
    if (event.kind === 'tunnel_down' && event.tunnel_down) {
      const { pod, reason, reason_kind: kind } = event.tunnel_down;
      const why = kind && kind !== 'REASON_KIND_UNSPECIFIED' ? `${reasonName(kind)}: ` : '';
      return { kind: 'tunnel-down', at, pod, detail: `${why}${reason || `pod ${pod}`}` };
    }
    if (event.kind !== 'status' || !event.status) {
      return undefined;
    }
    const s = event.status;
    if (s.phase === 'PHASE_FAILED') {
      return { kind: 'failed', at, pod: '', detail: s.reason || 'no reason given' };
    }
    if (s.phase === 'PHASE_READY' && s.pod) {
      const before = this.pods.get(event.forward);
      this.pods.set(event.forward, s.pod);
      if (before !== undefined && before !== s.pod) {
        return { kind: 'pod-changed', at, pod: before, detail: `now pod ${s.pod}` };
      }
    }
    return undefined;
  }

  private decideFor(sessionId: string): void {
    const e = this.ended.get(sessionId);
    if (!e) {
      return;
    }
    e.cancel?.();
    e.cancel = undefined;
    const decision = decide({
      policy: e.session.policy,
      startedAt: e.startedAt,
      sessionPod: e.session.pod,
      endedAt: e.endedAt,
      now: this.deps.now(),
      signals: this.signals.get(e.session.forward) ?? [],
      userStopped: e.userStopped,
      windowMs: this.windowMs,
    });
    if (decision.action === 'wait') {
      e.cancel = this.deps.setTimer(() => this.decideFor(sessionId), decision.until - this.deps.now());
      return;
    }
    this.ended.delete(sessionId);
    this.deps.decided?.(e.session, decision);
    void this.act(e.session, decision);
  }

  private async act(session: Tracked, decision: Exclude<Decision, { action: 'wait' }>): Promise<void> {
    const label = `debug session "${String(session.config.name ?? session.sessionId)}"`;
    switch (decision.action) {
      case 'none':
        this.deps.log(`${label} ended; not re-attaching: ${decision.why}`);
        return;
      case 'error':
        this.deps.error(`Tether: ${label} ended and ${decision.message}`);
        return;
      case 'prompt': {
        const yes = await this.deps.ask(
          `Tether: ${label} ended when forward ${session.forward} lost its tunnel (${decision.cause.detail}). Re-attach once it is Ready?`,
        );
        if (yes) {
          await this.reattach(session, decision.cause);
        }
        return;
      }
      case 'reattach':
        await this.reattach(session, decision.cause);
        return;
    }
  }

  private async reattach(session: Tracked, cause: Signal): Promise<void> {
    this.deps.log(`re-attaching ${session.forward} after ${cause.kind} (${cause.detail}): waiting for Ready`);
    try {
      const forward = await this.deps.waitReady(session.forward, cause.at, READY_MS);
      this.deps.log(`${session.forward} Ready on pod ${forward.status.pod}; starting the debugger again`);
      await this.deps.start(session);
    } catch (err) {
      this.deps.error(`Tether: could not re-attach through ${session.forward}: ${messageOf(err)}`);
    }
  }
}
