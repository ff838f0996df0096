// What the daemon holds, as the extension last heard it: forwards from ListForwards, kept
// current by WatchEvents. Views and the re-attach logic read it; nothing else writes it.

import type { Event, Forward, ForwardStatus } from '../api/types';

type Listener = () => void;

interface Waiter {
  name: string;
  /** Resolve once the forward became Ready at or after this time. */
  since: number;
  resolve: (f: Forward) => void;
}

/** Whether `next` is a new Ready: the forward was not Ready under `prev`, or now serves another pod. */
function readyAgain(prev: ForwardStatus | undefined, next: ForwardStatus): boolean {
  return next.phase === 'PHASE_READY' && (prev?.phase !== 'PHASE_READY' || prev.pod !== next.pod);
}

export class ForwardStore {
  private forwards = new Map<string, Forward>();
  /** When each forward last became Ready, by the extension's clock. */
  private readyAt = new Map<string, number>();
  private listeners = new Set<Listener>();
  private waiters = new Set<Waiter>();
  /** False until the first list, and after the daemon went away. */
  connected = false;

  constructor(private readonly now: () => number = Date.now) {}

  /** Replaces everything with a fresh list (after connecting). */
  reset(list: Forward[]): void {
    const old = this.forwards;
    this.forwards = new Map(list.map((f) => [f.spec.name, f]));
    for (const f of list) {
      if (readyAgain(old.get(f.spec.name)?.status, f.status)) {
        this.readyAt.set(f.spec.name, this.now());
      }
    }
    this.connected = true;
    this.changed();
  }

  /** The daemon stopped answering: keep nothing that may be stale. */
  disconnect(): void {
    this.connected = false;
    this.forwards.clear();
    this.changed();
  }

  /** Applies one event; returns true when it names a forward this store does not know. */
  apply(event: Event): boolean {
    const name = event.forward;
    if (!name) {
      return false;
    }
    if (event.kind === 'deleted') {
      this.forwards.delete(name);
      this.readyAt.delete(name);
      this.changed();
      return false;
    }
    const known = this.forwards.get(name);
    if (event.kind === 'status' && event.status) {
      if (known) {
        this.setStatus(known, event.status);
      }
      this.changed();
    }
    return !known;
  }

  list(): Forward[] {
    return [...this.forwards.values()].sort((a, b) => a.spec.name.localeCompare(b.spec.name));
  }

  get(name: string): Forward | undefined {
    return this.forwards.get(name);
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves once `name` is Ready after `since` (by the extension's clock), such as after the
   * tunnel went down; rejects after `timeoutMs`.
   */
  waitReady(name: string, since: number, timeoutMs: number): Promise<Forward> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const failure = `forward ${name} was not Ready again within ${Math.round(timeoutMs / 1000)} s`;
        const reason = this.forwards.get(name)?.status.reason;
        reject(new Error(reason ? `${failure} (${reason})` : failure));
      }, timeoutMs);
      const waiter: Waiter = {
        name,
        since,
        resolve: (f) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(f);
        },
      };
      this.waiters.add(waiter);
      this.checkWaiters();
    });
  }

  private setStatus(forward: Forward, status: ForwardStatus): void {
    if (readyAgain(forward.status, status)) {
      this.readyAt.set(forward.spec.name, this.now());
    }
    forward.status = status;
  }

  private changed(): void {
    this.checkWaiters();
    for (const listener of this.listeners) {
      listener();
    }
  }

  private checkWaiters(): void {
    for (const w of [...this.waiters]) {
      const f = this.forwards.get(w.name);
      if (f?.status.phase === 'PHASE_READY' && (this.readyAt.get(w.name) ?? -Infinity) >= w.since) {
        w.resolve(f);
      }
    }
  }
}
