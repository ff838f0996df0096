// The bundled dist/extension.js, loaded against a fake `vscode` and a fake tetherd (a real gRPC
// server on a Unix socket): activation, the provider, errors, re-attach wiring and commands.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import type { TetherApi } from '../src/extension';
import type { ForwardSpec } from '../src/api/types';
import { readyForward, startFakeDaemon, type FakeDaemon } from './fake/daemon';
import { BUNDLE, loadBundle } from './fake/load';
import { createFakeVscode, dispose, fakeContext, type Fake } from './fake/vscode';
import { EXT_ROOT, SCHEMA } from './harness/bins';

/** Resolves `config`, checks that no session starts, and returns the error shown instead. */
async function refusal(fake: Fake, config: object): Promise<string> {
  assert.equal(await fake.resolve(config), undefined);
  return fake.recorded.errors.at(-1)!;
}

describe('the bundle', () => {
  it('has only vscode as an external module', () => {
    const text = fs.readFileSync(BUNDLE, 'utf8');
    const external = new Set([...text.matchAll(/require\("([^"./][^"]*)"\)/g)].map((m) => m[1]!));
    for (const name of external) {
      assert.ok(name === 'vscode' || name.startsWith('node:') || isBuiltin(name), `external module ${name}`);
    }
    assert.ok(external.has('vscode'));
  });

  it('loads the schema beside it, byte-identical to the committed one (the drift test)', () => {
    const fake = createFakeVscode({ socketPath: '/nonexistent/tetherd.sock' });
    const context = fakeContext();
    const api = loadBundle(fake).activate(context);
    try {
      assert.equal(api.schemaFile, BUNDLE.replace(/extension\.js$/, 'tether_v1.binpb'));
      assert.ok(fs.readFileSync(api.schemaFile).equals(fs.readFileSync(SCHEMA)), `${api.schemaFile} differs from ${SCHEMA}`);
    } finally {
      dispose(context);
    }
  });
});

function isBuiltin(name: string): boolean {
  return builtinModules.includes(name);
}

describe('activate() against a fake daemon', () => {
  let daemon: FakeDaemon;
  let fake: Fake;
  let context: ReturnType<typeof fakeContext>;
  let api: TetherApi;

  before(async () => {
    daemon = await startFakeDaemon();
    fake = createFakeVscode({ socketPath: daemon.socket, cliPath: '/nonexistent/tether', readyTimeoutSeconds: 5 });
    context = fakeContext();
    api = loadBundle(fake).activate(context);
  });
  after(async () => {
    dispose(context);
    await daemon.stop();
  });

  it('registers a provider for every debug type, the tether type, and the commands', () => {
    assert.ok(fake.recorded.providers.has('*'));
    assert.ok(fake.recorded.providers.has('tether'));
    assert.ok(fake.recorded.trackerFactories.has('*'));
    const pkg = JSON.parse(fs.readFileSync(path.join(EXT_ROOT, 'package.json'), 'utf8'));
    const declared = pkg.contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepEqual([...fake.recorded.commands.keys()].sort(), declared);
  });

  it('follows the daemon: the store fills and the status bar counts', async () => {
    await fake.until('connected', () => api.store.connected);
    assert.equal(fake.recorded.status.text, '$(plug) Tether 0/0');
    assert.equal(fake.recorded.context.get('tether.connected'), true);
  });

  it('passes configurations without a tether block through untouched', async () => {
    const config = { type: 'node', request: 'attach', name: 'local', port: 9229 };
    assert.deepEqual(await fake.resolve(config), config);
  });

  it('creates the forward (wait_ready, derived name) and rewrites the configuration', async () => {
    const config = {
      type: 'debugpy',
      request: 'attach',
      name: 'api',
      justMyCode: false,
      tether: { target: 'deploy/api', namespace: 'shop', port: '5678', reattach: 'auto' },
    };
    const out = await fake.resolve(config);
    assert.ok(out, fake.recorded.errors.join('\n'));
    assert.deepEqual(out.connect, { host: '127.0.0.1', port: 40001 });
    assert.equal(out.justMyCode, false);
    assert.deepEqual(out.tether, config.tether);
    const create = daemon.creates.at(-1)!;
    assert.equal(create.wait_ready, true);
    assert.match(create.spec.name, /^dbg-deploy-api-5678-[0-9a-f]{8}$/);
    assert.deepEqual(create.spec.ports, [':5678']);
    assert.equal(create.spec.namespace, 'shop');
  });

  it('a forward that cannot be Ready: shows the reason and does not start the session', async () => {
    daemon.script.create = (spec: ForwardSpec) => {
      const f = readyForward(spec);
      f.status = { ...f.status, phase: 'PHASE_FAILED', pod: '', reason_kind: 'REASON_KIND_FORBIDDEN', reason: 'pods "api" is forbidden' };
      return f;
    };
    const shown = await refusal(fake, { type: 'node', request: 'attach', name: 'api', tether: { target: 'deploy/api', port: 9229 } });
    assert.match(shown, /cannot start "api".*failed: Forbidden: pods "api" is forbidden/);
  });

  it("shows the daemon's refusal (another spec under the name) as it words it", async () => {
    daemon.script.create = () => ({ code: Status.ALREADY_EXISTS, details: 'forward dbg-x exists with another spec.ports' });
    const shown = await refusal(fake, { type: 'java', request: 'attach', name: 'jvm', tether: { target: 'deploy/api', port: 5005 } });
    assert.match(shown, /cannot start "jvm".*exists with another spec\.ports/);
  });

  it('configuration errors are shown before any forward is created', async () => {
    const before = daemon.creates.length;
    const shown = await refusal(fake, { type: 'node', request: 'launch', name: 'bad', tether: { port: 9229 } });
    assert.match(shown, /tether\.target is required/);
    assert.equal(daemon.creates.length, before);
  });

  it('the tether debug type turns into its debugType', async () => {
    const tether = fake.recorded.providers.get('tether')!;
    const out = (await tether.resolveDebugConfiguration!(undefined, { type: 'tether', debugType: 'go', request: 'attach', tether: {} })) as Record<string, unknown>;
    assert.equal(out.type, 'go');
    assert.equal(out.debugType, undefined);
  });

  it('a session of a resolved configuration re-attaches after a tunnel loss; the start is the original configuration', async () => {
    daemon.script.create = (spec) => readyForward(spec, '127.0.0.1:40002', 'api-1');
    const config = { type: 'node', request: 'attach', name: 'web', tether: { target: 'deploy/web', port: 9229 } };
    const folder = { name: 'ws', uri: { fsPath: '/ws' } };
    const resolved = (await fake.resolve(config, folder))!;
    assert.ok(resolved, fake.recorded.errors.join('\n'));
    const name = daemon.creates.at(-1)!.spec.name;
    daemon.script.forwards = [readyForward(daemon.creates.at(-1)!.spec, '127.0.0.1:40002', 'api-1')];
    await fake.recorded.commands.get('tether.refresh')!();
    await fake.until('forward listed', () => api.store.list().find((f) => f.spec.name === name));
    const decisions: string[] = [];
    api.onDecision((_s, d) => decisions.push(d.action));
    const session = { id: 'dbg-1', type: 'node', name: 'web', configuration: resolved };
    fake.sessionStarted(session);
    daemon.emit({ forward: name, status: { phase: 'PHASE_READY', pod: 'api-1', local_addresses: ['127.0.0.1:40002'] } });
    daemon.emit({ forward: name, tunnel_down: { pod: 'api-1', reason: 'pod gone: api-1' } });
    daemon.emit({ forward: name, status: { phase: 'PHASE_RECONNECTING', reason: 'no ready pod' } });
    await fake.until('tunnel down seen', () => api.store.list().find((f) => f.status.phase === 'PHASE_RECONNECTING'));
    fake.sessionEnded(session);
    daemon.emit({ forward: name, status: { phase: 'PHASE_READY', pod: 'api-2', local_addresses: ['127.0.0.1:40002'] } });
    const start = await fake.until('re-attach', () => fake.recorded.started[0]);
    assert.deepEqual(decisions, ['reattach']);
    assert.deepEqual(start.config, config);
    assert.deepEqual(start.folder, folder);
  });

  it('a user stop (disconnect before the adapter ended) does not re-attach', async () => {
    const config = { type: 'node', request: 'attach', name: 'web', tether: { target: 'deploy/web', port: 9229 } };
    const resolved = (await fake.resolve(config))!;
    const decisions: string[] = [];
    const sub = api.onDecision((_s, d) => decisions.push(d.action));
    const session = { id: 'dbg-2', type: 'node', name: 'web', configuration: resolved };
    const tracker = fake.recorded.trackerFactories.get('*')!.createDebugAdapterTracker(session)!;
    fake.sessionStarted(session);
    tracker.onWillReceiveMessage!({ type: 'request', command: 'disconnect' });
    daemon.emit({ forward: daemon.creates.at(-1)!.spec.name, tunnel_down: { pod: 'api-2', reason: 'pod gone' } });
    fake.sessionEnded(session);
    await fake.until('decision', () => decisions.length > 0);
    assert.deepEqual(decisions, ['none']);
    sub.dispose();
  });

  it('copy address and open in browser act on the selected forward', async () => {
    await fake.until('forward listed', () => api.store.list().length > 0);
    const name = api.store.list()[0]!.spec.name;
    const node = { kind: 'item', name, model: {} };
    await fake.recorded.commands.get('tether.copyAddress')!(node);
    await fake.recorded.commands.get('tether.openInBrowser')!(node);
    assert.deepEqual(fake.recorded.clipboard, ['127.0.0.1:40002']);
    assert.deepEqual(fake.recorded.opened, ['http://127.0.0.1:40002/']);
  });
});

describe('activate() against a daemon of another API version', () => {
  it('shows both versions when a debug session needs the daemon', async () => {
    const daemon = await startFakeDaemon();
    daemon.script.handshake = {
      daemon_version: '2.0.0',
      api_major: 2,
      compatible: false,
      message: 'restart the daemon with `tether daemon stop`',
    };
    const fake = createFakeVscode({ socketPath: daemon.socket });
    const context = fakeContext();
    loadBundle(fake).activate(context);
    try {
      const shown = await refusal(fake, { type: 'node', request: 'attach', name: 'x', tether: { target: 'deploy/web', port: 9229 } });
      assert.match(shown, /tetherd 2\.0\.0 \(API v2\).*extension 0\.1\.0 \(API v1\)/);
    } finally {
      dispose(context);
      await daemon.stop();
    }
  });
});

describe('activate() with an untrusted socket folder', () => {
  it('refuses it, naming the path, owner and mode', async () => {
    const daemon = await startFakeDaemon();
    fs.chmodSync(daemon.dir, 0o777);
    const fake = createFakeVscode({ socketPath: daemon.socket, cliPath: '/nonexistent/tether' });
    const context = fakeContext();
    loadBundle(fake).activate(context);
    try {
      const shown = await refusal(fake, { type: 'node', request: 'attach', name: 'x', tether: { target: 'deploy/web', port: 9229 } });
      assert.ok(shown.includes(`refusing tetherd's socket folder ${daemon.dir}`), shown);
      assert.match(shown, /mode 0777/);
      assert.equal(daemon.creates.length, 0);
    } finally {
      dispose(context);
      await daemon.stop();
    }
  });
});
