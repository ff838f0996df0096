// The bundled extension against a real tetherd and tether-testkit, with real debugger traffic:
// node's inspector (re-attach after the pod is deleted, timed) and debugpy (a DAP initialize).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { TetherApi } from '../src/extension';
import { loadBundle } from './fake/load';
import { createFakeVscode, dispose, fakeContext, type Fake } from './fake/vscode';
import { bin, EXT_ROOT, python } from './harness/bins';
import { eventually, startTestkit, startTetherd, type Proc } from './harness/cluster';
import { dapInitialize, getJson, openInspector } from './harness/debuggers';


const FIXTURES = path.join(EXT_ROOT, 'test/fixtures');
const run = promisify(execFile);

/** Two fixture workloads: node --inspect in a one-replica deployment, and debugpy in a pod. */
function fixture(py: string): string {
  const inspect = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'inspect', namespace: 'default', labels: { app: 'inspect' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'inspect' } },
      template: {
        metadata: { labels: { app: 'inspect' } },
        spec: {
          containers: [
            {
              name: 'main',
              image: 'node',
              command: [process.execPath, '--inspect=127.0.0.1:$(PORT_INSPECT)', path.join(FIXTURES, 'inspect.js')],
              ports: [{ name: 'inspect', containerPort: 9229 }],
            },
          ],
        },
      },
    },
  };
  const debugpy = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'pyapp', namespace: 'default', labels: { app: 'pyapp' } },
    spec: {
      containers: [
        {
          name: 'main',
          image: 'python',
          command: [py, path.join(FIXTURES, 'dap_gate.py'), '127.0.0.1:$(PORT_DEBUG)', '--'],
          args: [py, '-m', 'debugpy', '--listen', '127.0.0.1:{port}', '--wait-for-client', path.join(FIXTURES, 'app.py')],
          ports: [{ name: 'debug', containerPort: 5678 }],
        },
      ],
    },
  };
  return [inspect, debugpy].map((doc) => JSON.stringify(doc)).join('\n---\n');
}

describe('against tetherd and tether-testkit', { timeout: 240_000 }, () => {
  let dir: string;
  let cluster: Proc & { kubeconfig: string };
  let daemon: Proc;
  let fake: Fake;
  let context: ReturnType<typeof fakeContext>;
  let api: TetherApi;

  before(async () => {
    const py = python();
    bin('tether'); // every binary must be there before anything starts
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-vscode-it-'));
    fs.chmodSync(dir, 0o700);
    const socket = path.join(dir, 'tetherd.sock');
    cluster = await startTestkit(dir, fixture(py));
    daemon = startTetherd(dir, socket);
    fake = createFakeVscode({ socketPath: socket, cliPath: bin('tether'), readyTimeoutSeconds: 30 });
    context = fakeContext();
    api = loadBundle(fake).activate(context);
    await fake.until('the extension follows tetherd', () => api.store.connected, 20_000);
  });

  after(async () => {
    if (context) dispose(context);
    await daemon?.stop();
    await cluster?.stop();
    if (dir && !process.env.TETHER_TEST_KEEP) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  const nodeConfig = (): Record<string, unknown> => ({
    type: 'node',
    request: 'attach',
    name: 'Node: attach in cluster',
    skipFiles: ['<node_internals>/**'],
    tether: { target: 'deploy/inspect', port: 9229, kubeconfig: cluster.kubeconfig, reattach: 'auto' },
  });

  it('node: a configuration resolved through the extension reaches the inspector', async () => {
    const resolved = await fake.resolve(nodeConfig());
    assert.ok(resolved, fake.recorded.errors.join('\n'));
    assert.equal(resolved.address, '127.0.0.1');
    assert.equal(typeof resolved.port, 'number');
    assert.deepEqual(resolved.skipFiles, ['<node_internals>/**']);
    const version = await getJson<Record<string, string>>('127.0.0.1', resolved.port as number, '/json/version');
    assert.match(version.Browser ?? '', /^node\.js\/v\d+/);
    assert.equal(version['Protocol-Version'], '1.1');
  });

  it('node: after the pod is deleted, the same local port answers from the new pod and the re-attach fires', async (t) => {
    const config = nodeConfig();
    const resolved = (await fake.resolve(config))!;
    const port = resolved.port as number;
    const [target] = await getJson<{ id: string; webSocketDebuggerUrl: string }[]>('127.0.0.1', port, '/json/list');
    assert.ok(target);
    // The debugger: a CDP session through the forward, as js-debug holds while attached.
    const inspector = await openInspector('127.0.0.1', port, new URL(target.webSocketDebuggerUrl).pathname);
    const pid = await inspector.evaluate('process.pid');
    const session = { id: 'node-1', type: 'node', name: 'Node: attach in cluster', configuration: resolved };
    fake.sessionStarted(session);
    // VS Code ends the session when the adapter loses its target.
    let endedAt = 0;
    void inspector.closed.then(() => {
      endedAt = Date.now();
      fake.sessionEnded(session);
    });
    let decidedAt = 0;
    let decision = '';
    api.onDecision((_s, d) => {
      decidedAt = Date.now();
      decision = d.action;
    });

    const name = (resolved.__tether as { forward: string }).forward;
    const listed = await fake.until('the forward in the view', () => api.store.list().find((f) => f.spec.name === name));
    const pod = listed.status.pod;
    const deletedAt = Date.now();
    await run(bin('tether-testkit'), ['fault', '--kubeconfig', cluster.kubeconfig, 'delete-pod', pod], { timeout: 10_000 });
    const fresh = await eventually(
      'the inspector answers again on the same local port',
      async () => {
        const [now] = await getJson<{ id: string }[]>('127.0.0.1', port, '/json/list', 1_000);
        assert.ok(now && now.id !== target.id, 'still the old process');
        return now;
      },
      60_000,
    );
    const answeredAt = Date.now();
    const start = await fake.until('the re-attach start', () => fake.recorded.started[0], 30_000);
    assert.equal(decision, 'reattach');
    assert.deepEqual(start.config, config, 'the same configuration, as written, is started again');

    // VS Code resolves the restarted configuration: same local port, and the debugger works.
    const again = (await fake.resolve(start.config))!;
    assert.equal(again.port, port);
    const [next] = await getJson<{ id: string; webSocketDebuggerUrl: string }[]>('127.0.0.1', port, '/json/list');
    assert.equal(next!.id, fresh.id);
    const inspector2 = await openInspector('127.0.0.1', port, new URL(next!.webSocketDebuggerUrl).pathname);
    assert.notEqual(await inspector2.evaluate('process.pid'), pid);
    inspector2.close();

    const measured = {
      deletionToInspectorMs: answeredAt - deletedAt,
      deletionToSessionEndMs: endedAt - deletedAt,
      deletionToDecisionMs: decidedAt - deletedAt,
      deletionToRestartMs: start.at - deletedAt,
      inspectorToRestartMs: start.at - answeredAt,
    };
    t.diagnostic(`re-attach timings: ${JSON.stringify(measured)}`);
    console.log(`re-attach timings: ${JSON.stringify(measured)}`);
  });

  it('debugpy: a DAP initialize through the resolved port succeeds', async () => {
    const resolved = await fake.resolve({
      type: 'debugpy',
      request: 'attach',
      name: 'Python: attach in cluster',
      justMyCode: false,
      tether: { target: 'pod/pyapp', port: 'debug', kubeconfig: cluster.kubeconfig },
    });
    assert.ok(resolved, fake.recorded.errors.join('\n'));
    const connect = resolved.connect as { host: string; port: number };
    assert.equal(connect.host, '127.0.0.1');
    const response = await dapInitialize(connect.host, connect.port);
    assert.equal(response.command, 'initialize');
    assert.equal(response.success, true);
  });

  it('the event stream reconnects when the daemon restarts; forwards come back on their ports', async (t) => {
    const socket = path.join(dir, 'tetherd.sock');
    const { stdout } = await run(bin('tether'), ['--socket', socket, '--no-autostart', 'ls', '-o', 'json'], { timeout: 10_000 });
    const listed = JSON.parse(stdout) as { items: { name: string; status: { localAddresses: string[] } }[] };
    const before = listed.items.map((f) => `${f.name} ${f.status.localAddresses.join(',')}`).sort();
    assert.ok(before.length >= 2, stdout);
    const t0 = Date.now();
    await daemon.stop();
    t.diagnostic(`tetherd stopped in ${Date.now() - t0} ms`);
    await fake.until('the extension notices', () => !api.store.connected, 10_000);
    assert.equal(fake.recorded.status.text, '$(debug-disconnect) Tether');
    daemon = startTetherd(dir, socket);
    await fake.until('reconnected', () => api.store.connected, 30_000);
    const after = api.store.list().map((f) => `${f.spec.name} ${f.status.local_addresses.join(',')}`).sort();
    assert.deepEqual(after, before);
  });

  it('a target that does not exist: the reason is shown and no session starts', async () => {
    fake.settings.readyTimeoutSeconds = 3;
    try {
      const resolved = await fake.resolve({
        type: 'java',
        request: 'attach',
        name: 'Java: attach in cluster',
        tether: { target: 'deploy/missing', port: 5005, kubeconfig: cluster.kubeconfig },
      });
      assert.equal(resolved, undefined);
      assert.match(fake.recorded.errors.at(-1)!, /cannot start "Java: attach in cluster": forward dbg-deploy-missing-5005-\w+ to deploy\/missing/);
      assert.match(fake.recorded.errors.at(-1)!, /NotFound|NoReadyPod/);
    } finally {
      fake.settings.readyTimeoutSeconds = 30;
    }
  });
});

describe('starting the daemon', { timeout: 60_000 }, () => {
  it('runs `tether daemon start` (the CLI lifecycle lock) and connects', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-vscode-start-'));
    const socket = path.join(dir, 'run', 'tetherd.sock');
    // The daemon the CLI starts inherits this process's environment: keep its state private.
    process.env.TETHER_STATE_DIR = path.join(dir, 'state');
    process.env.TETHER_DAEMON_BIN = bin('tetherd');
    const fake = createFakeVscode({ socketPath: socket, cliPath: bin('tether') });
    const context = fakeContext();
    const api = loadBundle(fake).activate(context);
    try {
      assert.equal(api.store.connected, false);
      await fake.recorded.commands.get('tether.startDaemon')!();
      assert.deepEqual(fake.recorded.errors, []);
      await fake.until('connected to the started daemon', () => api.store.connected, 20_000);
      assert.ok(fake.recorded.log.some((l) => l.startsWith('connected to tetherd')), fake.recorded.log.join('\n'));
      assert.ok(fs.existsSync(path.join(dir, 'run', 'lifecycle.lock')), 'the CLI took its lifecycle lock');
    } finally {
      dispose(context);
      await run(bin('tether'), ['--socket', socket, 'daemon', 'stop'], { timeout: 20_000 }).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  });
});
