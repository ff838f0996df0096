// The re-attach decision (pure), and the driver that feeds it events and session ends.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Event, Forward } from '../src/api/types';
import { decide, type DecisionInput, type Signal } from '../src/debug/reattach';
import { Reattacher, type ReattachDeps, type Tracked } from '../src/debug/reattacher';

const input = (over: Partial<DecisionInput>): DecisionInput => ({
  policy: 'auto',
  startedAt: 1_000,
  sessionPod: 'api-1',
  endedAt: 10_000,
  now: 10_000,
  signals: [],
  userStopped: false,
  windowMs: 5_000,
  ...over,
});
const sig = (kind: Signal['kind'], at: number, detail = 'pod gone: api-1', pod = 'api-1'): Signal => ({ kind, at, pod, detail });

describe('decide', () => {
  it('a pod gone just before the end re-attaches', () => {
    const d = decide(input({ signals: [sig('tunnel-down', 9_200)] }));
    assert.equal(d.action, 'reattach');
  });

  it('a tunnel down just after the end re-attaches', () => {
    const d = decide(input({ now: 11_000, signals: [sig('tunnel-down', 10_800)] }));
    assert.equal(d.action, 'reattach');
  });

  it('a change of pod within the window re-attaches', () => {
    assert.equal(decide(input({ signals: [sig('pod-changed', 8_000, 'now pod api-2')] })).action, 'reattach');
  });

  it("a user's stop never re-attaches, even next to a tunnel event", () => {
    const d = decide(input({ userStopped: true, signals: [sig('tunnel-down', 9_900)] }));
    assert.deepEqual(d, { action: 'none', why: 'the user stopped the session' });
  });

  it('a session that ends with no tunnel event waits out the window, then does nothing', () => {
    assert.deepEqual(decide(input({})), { action: 'wait', until: 15_000 });
    assert.equal(decide(input({ now: 15_000 })).action, 'none');
  });

  it("another pod's tunnel event outside the window is unrelated", () => {
    assert.equal(decide(input({ now: 16_000, signals: [sig('tunnel-down', 4_000, 'pod gone', 'api-0')] })).action, 'none');
  });

  it('the loss of its own pod re-attaches even long before the end (a debuggee in its grace period)', () => {
    const lingering = input({ endedAt: 31_000, now: 31_000, signals: [sig('tunnel-down', 1_500)] });
    assert.equal(decide(lingering).action, 'reattach');
    const changed = input({ endedAt: 31_000, now: 31_000, signals: [sig('pod-changed', 2_000, 'now pod api-2', 'api-1')] });
    assert.equal(decide(changed).action, 'reattach');
  });

  it('a loss of its pod before the session started does not count', () => {
    assert.equal(decide(input({ startedAt: 5_000, now: 35_000, endedAt: 30_000, signals: [sig('tunnel-down', 4_000)] })).action, 'none');
  });

  it('Failed does not re-attach but is an error naming the reason', () => {
    const d = decide(input({ signals: [sig('tunnel-down', 9_000), sig('failed', 9_500, 'Forbidden: pods "api-1" is forbidden')] }));
    assert.equal(d.action, 'error');
    assert.match((d as { message: string }).message, /Forbidden/);
  });

  it('prompt asks and off does nothing', () => {
    assert.equal(decide(input({ policy: 'prompt', signals: [sig('tunnel-down', 9_000)] })).action, 'prompt');
    assert.equal(decide(input({ policy: 'off', signals: [sig('tunnel-down', 9_000)] })).action, 'none');
  });

  it('ignores signals from the future of `now`', () => {
    assert.equal(decide(input({ signals: [sig('tunnel-down', 12_000)] })).action, 'wait');
  });
});

/** A driver under a hand-moved clock. */
function harness(policy: Tracked['policy'] = 'auto') {
  let now = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  const log: string[] = [];
  const started: Tracked[] = [];
  const errors: string[] = [];
  const decisions: string[] = [];
  let ready: (f: Forward) => void = () => undefined;
  const deps: ReattachDeps = {
    now: () => now,
    setTimer: (fn, ms) => {
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return () => {
        t.live = false;
      };
    },
    waitReady: () => new Promise((resolve) => (ready = resolve)),
    start: async (t) => void started.push(t),
    ask: async () => true,
    error: (m) => errors.push(m),
    log: (m) => log.push(m),
    decided: (_s, d) => decisions.push(d.action),
  };
  const r = new Reattacher(deps, 5_000);
  const session: Tracked = {
    sessionId: 's1',
    forward: 'dbg-api',
    policy,
    config: { name: 'api', tether: {} },
    folder: undefined,
    pod: 'api-1',
  };
  r.track(session);
  return {
    r,
    started,
    errors,
    decisions,
    log,
    advance(ms: number) {
      now += ms;
      for (const t of timers.filter((t) => t.live && t.at <= now)) {
        t.live = false;
        t.fn();
      }
    },
    ready: (pod: string) => ready({ status: { phase: 'PHASE_READY', pod } } as Forward),
  };
}

const status = (phase: string, pod = '', reason = ''): Event =>
  ({ time_unix_ms: 0, forward: 'dbg-api', kind: 'status', status: { phase, pod, reason, local_addresses: [] } }) as unknown as Event;
const down = (): Event =>
  ({ time_unix_ms: 0, forward: 'dbg-api', kind: 'tunnel_down', tunnel_down: { pod: 'api-1', reason: 'pod gone: api-1' } }) as Event;
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Reattacher', () => {
  it('pod deleted, then the session ends: waits for Ready, then starts the same configuration', async () => {
    const h = harness();
    h.r.event(status('PHASE_READY', 'api-1'));
    h.advance(1_000);
    h.r.event(down());
    h.advance(200);
    h.r.sessionEnded('s1');
    assert.deepEqual(h.decisions, ['reattach']);
    await flush();
    assert.equal(h.started.length, 0, 'started before Ready');
    h.ready('api-2');
    await flush();
    assert.deepEqual(h.started.map((s) => s.config), [{ name: 'api', tether: {} }]);
  });

  it('the session ends first, and the tunnel event follows within the window', async () => {
    const h = harness();
    h.r.event(status('PHASE_READY', 'api-1'));
    h.r.sessionEnded('s1');
    assert.deepEqual(h.decisions, []);
    h.advance(300);
    h.r.event(status('PHASE_READY', 'api-2'));
    assert.deepEqual(h.decisions, ['reattach']);
  });

  it('a user stop (disconnect before the adapter ended) does not re-attach', () => {
    const h = harness();
    h.r.userStopping('s1');
    h.r.event(down());
    h.r.sessionEnded('s1');
    assert.deepEqual(h.decisions, ['none']);
    assert.equal(h.r.tracking, 0);
  });

  it('a session that ends 30 s after its pod was deleted (grace period) re-attaches', () => {
    const h = harness();
    h.r.event(status('PHASE_READY', 'api-1'));
    h.r.event(down());
    h.advance(600);
    h.r.event(status('PHASE_READY', 'api-2'));
    h.advance(30_000);
    h.r.sessionEnded('s1');
    assert.deepEqual(h.decisions, ['reattach']);
  });

  it('an end with no tunnel event decides nothing after the window', () => {
    const h = harness();
    h.r.sessionEnded('s1');
    h.advance(4_999);
    assert.deepEqual(h.decisions, []);
    h.advance(1);
    assert.deepEqual(h.decisions, ['none']);
    assert.equal(h.started.length, 0);
  });

  it('Failed shows an error and does not re-attach', async () => {
    const h = harness();
    h.r.event(status('PHASE_FAILED', '', 'Forbidden: pods is forbidden'));
    h.r.sessionEnded('s1');
    await flush();
    assert.deepEqual(h.decisions, ['error']);
    assert.match(h.errors[0]!, /forward failed: Forbidden/);
    assert.equal(h.started.length, 0);
  });

  it('sessions without a tether block are ignored', () => {
    const h = harness();
    h.r.sessionEnded('other');
    assert.deepEqual(h.decisions, []);
  });
});
