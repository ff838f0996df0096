// The status bar text and the tree items of forwards and sessions.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Forward, Phase, Session } from '../src/api/types';
import { browserUrl, forwardItem, statusBar } from '../src/forwards/view';
import { sessionItem } from '../src/sessions/view';

const forward = (name: string, phase: Phase, extra: Partial<Forward['status']> = {}): Forward => ({
  spec: { name, target: 'svc/db', namespace: 'shop', context: '', kubeconfig: '', ports: ['5432'], address: '' },
  status: {
    phase,
    attempt: 0,
    reason_kind: 'REASON_KIND_UNSPECIFIED',
    reason: '',
    pod: '',
    local_addresses: ['127.0.0.1:5432'],
    since_unix: 0,
    protocol: '',
    ...extra,
  },
  stats: { connections_total: 0, connections_active: 0, reconnects: 3, bytes_out: 0, bytes_in: 0 },
  created_unix: 0,
});

describe('statusBar', () => {
  it('counts Ready over all', () => {
    const s = statusBar([forward('a', 'PHASE_READY'), forward('b', 'PHASE_PAUSED'), forward('c', 'PHASE_READY')], true);
    assert.equal(s.text, '$(plug) Tether 2/3');
    assert.equal(s.warning, false);
  });

  it('warns while one is Reconnecting or Failed, and says which', () => {
    const s = statusBar(
      [
        forward('a', 'PHASE_READY'),
        forward('b', 'PHASE_RECONNECTING', { reason: 'no ready pod' }),
        forward('c', 'PHASE_FAILED', { reason: 'forbidden' }),
      ],
      true,
    );
    assert.equal(s.text, '$(warning) Tether 1/3');
    assert.equal(s.warning, true);
    assert.match(s.tooltip, /b: Reconnecting \(no ready pod\)/);
    assert.match(s.tooltip, /c: Failed \(forbidden\)/);
  });

  it('says when the daemon is not reachable', () => {
    assert.equal(statusBar([], false).text, '$(debug-disconnect) Tether');
    assert.equal(statusBar([], true).text, '$(plug) Tether 0/0');
  });
});

describe('forwardItem', () => {
  it('shows state, pod, local address and reconnects, with a menu context per state', () => {
    const item = forwardItem(forward('db', 'PHASE_READY', { pod: 'db-0' }));
    assert.equal(item.label, 'db');
    assert.equal(item.description, 'Ready · db-0 · 127.0.0.1:5432');
    assert.equal(item.contextValue, 'forward-ready');
    assert.deepEqual(
      item.details.map((d) => `${d.label}=${d.description}`),
      ['Target=svc/db 5432', 'Namespace=shop', 'Pod=db-0', 'Local=127.0.0.1:5432', 'Reconnects=3'],
    );
  });

  it('shows the reason by name', () => {
    const item = forwardItem(
      forward('db', 'PHASE_RECONNECTING', { reason_kind: 'REASON_KIND_NO_READY_POD', reason: 'no ready pod', attempt: 2 }),
    );
    assert.equal(item.contextValue, 'forward-reconnecting');
    assert.match(item.tooltip, /Reconnecting \(attempt 2\)/);
    assert.deepEqual(item.details.at(-1), { label: 'Reason', description: 'NoReadyPod: no ready pod' });
  });

  it('opens the first local address in a browser', () => {
    assert.equal(browserUrl(forward('db', 'PHASE_READY')), 'http://127.0.0.1:5432/');
    assert.equal(browserUrl(forward('db', 'PHASE_READY', { local_addresses: [] })), undefined);
  });
});

describe('sessionItem', () => {
  it('shows the command and phase; ended sessions have their own context', () => {
    const s = {
      id: 'k3x9',
      kind: 'SESSION_KIND_EXEC',
      spec: { target: 'deploy/web', command: ['sh'], stdin: true, tty: true },
      phase: 'SESSION_PHASE_RUNNING',
      pod: 'web-1',
      container: 'main',
      reason: '',
      attached: 1,
      output_bytes: 10,
    } as unknown as Session;
    const item = sessionItem(s);
    assert.equal(item.label, 'k3x9 sh');
    assert.equal(item.description, 'Running · web-1');
    assert.equal(item.contextValue, 'session-live');
    assert.equal(sessionItem({ ...s, phase: 'SESSION_PHASE_EXITED' }).contextValue, 'session-ended');
  });
});
