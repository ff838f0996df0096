// The event feed's reconnects with backoff, and the forward store it fills.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { Event, Forward } from '../src/api/types';
import { backoffMs, EventFeed, type EventStreamLike } from '../src/events';
import { ForwardStore } from '../src/forwards/store';

class Stream extends EventEmitter implements EventStreamLike<Event> {
  cancelled = false;
  cancel(): void {
    this.cancelled = true;
  }
}

describe('backoffMs', () => {
  it('doubles from 250 ms up to 10 s', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20].map(backoffMs), [250, 500, 1000, 2000, 4000, 8000, 10000, 10000]);
  });
});

describe('EventFeed', () => {
  function harness(opens: (() => Promise<Stream>)[]) {
    const timers: { ms: number; fn: () => void }[] = [];
    const log: string[] = [];
    const feed = new EventFeed<Event>({
      open: () => opens.shift()!(),
      onEvent: (e) => log.push(`event ${e.forward}`),
      onUp: () => log.push('up'),
      onDown: (err, ms) => log.push(`down ${ms}: ${err.message}`),
      setTimer: (fn, ms) => {
        const t = { ms, fn };
        timers.push(t);
        return () => timers.splice(timers.indexOf(t), 1);
      },
    });
    return { feed, timers, log };
  }
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

  it('retries with growing delays while the daemon is down, and resets once up', async () => {
    const refused = (): Promise<Stream> => Promise.reject(new Error('refused'));
    const s1 = new Stream();
    const s2 = new Stream();
    const h = harness([refused, refused, async () => s1, async () => s2]);
    h.feed.start();
    await tick();
    assert.deepEqual(h.log, ['down 250: refused']);
    h.timers.shift()!.fn();
    await tick();
    assert.deepEqual(h.log.slice(1), ['down 500: refused']);
    h.timers.shift()!.fn();
    await tick();
    assert.equal(h.log.at(-1), 'up');
    s1.emit('data', { forward: 'db' });
    s1.emit('error', new Error('daemon restarted'));
    s1.emit('end'); // a second end is not a second retry
    assert.deepEqual(h.log.slice(-2), ['event db', 'down 250: daemon restarted']);
    assert.equal(h.timers.length, 1);
    h.timers.shift()!.fn();
    await tick();
    assert.equal(h.log.at(-1), 'up');
    h.feed.stop();
    assert.equal(s2.cancelled, true);
  });

  it('retryNow skips the wait', async () => {
    const s = new Stream();
    const h = harness([() => Promise.reject(new Error('refused')), async () => s]);
    h.feed.start();
    await tick();
    h.feed.retryNow();
    await tick();
    assert.equal(h.feed.isUp, true);
    assert.equal(h.timers.length, 0);
  });
});

const fwd = (name: string, phase: string, pod = ''): Forward =>
  ({ spec: { name }, status: { phase, pod, reason: '', local_addresses: [] } }) as unknown as Forward;
const statusEvent = (name: string, phase: string, pod = ''): Event =>
  ({ forward: name, kind: 'status', status: { phase, pod, reason: '', local_addresses: [] } }) as unknown as Event;

describe('ForwardStore', () => {
  it('applies status and deletion events; unknown forwards ask for a refresh', () => {
    const store = new ForwardStore();
    store.reset([fwd('a', 'PHASE_READY', 'p1')]);
    assert.equal(store.apply(statusEvent('a', 'PHASE_RECONNECTING')), false);
    assert.equal(store.get('a')!.status.phase, 'PHASE_RECONNECTING');
    assert.equal(store.apply(statusEvent('b', 'PHASE_PENDING')), true);
    store.apply({ forward: 'a', kind: 'deleted' } as Event);
    assert.deepEqual(store.list(), []);
  });

  it('waitReady waits for a Ready that comes after `since`', async () => {
    let now = 100;
    const store = new ForwardStore(() => now);
    store.reset([fwd('a', 'PHASE_READY', 'p1')]);
    const waiting = store.waitReady('a', 200, 5_000);
    now = 300;
    store.apply(statusEvent('a', 'PHASE_RECONNECTING'));
    store.apply(statusEvent('a', 'PHASE_READY', 'p2'));
    assert.equal((await waiting).status.pod, 'p2');
  });

  it('waitReady fails after its deadline with the last reason', async () => {
    const store = new ForwardStore(() => 0);
    store.reset([fwd('a', 'PHASE_RECONNECTING')]);
    store.get('a')!.status.reason = 'no ready pod';
    await assert.rejects(store.waitReady('a', 1, 20), /not Ready again within 0 s \(no ready pod\)/);
  });
});
