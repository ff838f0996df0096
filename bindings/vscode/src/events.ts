// The event feed: connect, list, then follow WatchEvents; when the stream ends (the daemon
// restarted or stopped), connect again with backoff. One state machine owns the retries.

/** The stream part of a WatchEvents call. */
export interface EventStreamLike<E> {
  on(event: 'data', fn: (e: E) => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
  cancel(): void;
}

export interface FeedDeps<E> {
  /** Connects (and lists what the daemon holds), then opens the stream. */
  open(): Promise<EventStreamLike<E>>;
  onEvent(event: E): void;
  /** The stream is open. */
  onUp(): void;
  /** The stream broke or could not be opened; `retryMs` until the next attempt. */
  onDown(err: Error, retryMs: number): void;
  setTimer(fn: () => void, ms: number): () => void;
}

/** The delay before attempt `n` (from 0): 250 ms doubling, at most 10 s. */
export function backoffMs(attempt: number): number {
  return Math.min(250 * 2 ** Math.min(attempt, 10), 10_000);
}

type State =
  | { kind: 'idle' }
  | { kind: 'opening' }
  | { kind: 'up'; stream: EventStreamLike<unknown> }
  | { kind: 'backoff'; cancel: () => void }
  | { kind: 'stopped' };

export class EventFeed<E> {
  private state: State = { kind: 'idle' };
  /** Failed attempts since the stream was last up. */
  private failures = 0;

  constructor(private readonly deps: FeedDeps<E>) {}

  start(): void {
    if (this.state.kind === 'idle') {
      void this.attempt();
    }
  }

  /** Connect now instead of waiting out the backoff (after starting the daemon). */
  retryNow(): void {
    if (this.state.kind === 'backoff') {
      this.state.cancel();
      this.failures = 0;
      void this.attempt();
    }
  }

  stop(): void {
    const s = this.state;
    this.state = { kind: 'stopped' };
    if (s.kind === 'up') {
      s.stream.cancel();
    } else if (s.kind === 'backoff') {
      s.cancel();
    }
  }

  get isUp(): boolean {
    return this.state.kind === 'up';
  }

  private async attempt(): Promise<void> {
    this.state = { kind: 'opening' };
    let stream: EventStreamLike<E>;
    try {
      stream = await this.deps.open();
    } catch (err) {
      this.down(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.stopped()) {
      stream.cancel();
      return;
    }
    this.state = { kind: 'up', stream: stream as EventStreamLike<unknown> };
    this.failures = 0;
    let done = false;
    const finish = (err: Error): void => {
      if (!done) {
        done = true;
        this.down(err);
      }
    };
    stream.on('data', (e) => this.deps.onEvent(e));
    stream.on('error', (err) => finish(err));
    stream.on('end', () => finish(new Error('the daemon closed the event stream')));
    this.deps.onUp();
  }

  private stopped(): boolean {
    return this.state.kind === 'stopped';
  }

  private down(err: Error): void {
    if (this.stopped()) {
      return;
    }
    const retryMs = backoffMs(this.failures);
    this.failures += 1;
    const cancel = this.deps.setTimer(() => void this.attempt(), retryMs);
    this.state = { kind: 'backoff', cancel };
    this.deps.onDown(err, retryMs);
  }
}
