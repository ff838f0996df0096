// The rewrite table: per debug type, the fields each debugger reads, and nothing else touched.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../src/debug/block';
import { endpointOf, rewrite, SUPPORTED_TYPES, type DebugConfig } from '../src/debug/rewrite';

const at = { host: '127.0.0.1', port: 40123 };
const base = (type: string, extra: Record<string, unknown> = {}): DebugConfig => ({
  type,
  request: 'attach',
  name: `${type} in cluster`,
  tether: { target: 'deploy/api', port: 1234 },
  ...extra,
});

describe('rewrite table', () => {
  const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['debugpy', {}, { connect: { host: '127.0.0.1', port: 40123 } }],
    ['python', {}, { connect: { host: '127.0.0.1', port: 40123 } }],
    ['node', {}, { address: '127.0.0.1', port: 40123 }],
    ['pwa-node', {}, { address: '127.0.0.1', port: 40123 }],
    ['java', {}, { hostName: '127.0.0.1', port: 40123 }],
    ['go', {}, { host: '127.0.0.1', port: 40123, mode: 'remote' }],
    ['chrome', {}, { port: 40123 }],
    ['pwa-chrome', {}, { port: 40123 }],
    ['msedge', {}, { port: 40123 }],
    ['pwa-msedge', {}, { port: 40123 }],
  ];
  for (const [type, extra, expected] of cases) {
    it(`${type}: sets ${Object.keys(expected).join(', ')}`, () => {
      const out = rewrite(base(type, extra), at);
      assert.deepEqual(out, { ...base(type, extra), ...expected });
    });
  }

  it('covers every supported type', () => {
    assert.deepEqual([...SUPPORTED_TYPES].sort(), cases.map(([t]) => t).sort());
  });

  it('debugpy: keeps the other connect fields and rewrites host and port', () => {
    const out = rewrite(base('debugpy', { connect: { host: 'localhost', port: 5678, extra: 1 } }), at);
    assert.deepEqual(out.connect, { host: '127.0.0.1', port: 40123, extra: 1 });
    assert.equal(out.host, undefined);
  });

  it('debugpy: rewrites the legacy top-level host and port where the user wrote them', () => {
    const out = rewrite(base('debugpy', { host: 'localhost', port: 5678 }), at);
    assert.equal(out.host, '127.0.0.1');
    assert.equal(out.port, 40123);
    assert.equal(out.connect, undefined);
  });

  it('chrome: leaves address as the user wrote it', () => {
    assert.equal(rewrite(base('chrome', { address: 'localhost' }), at).address, 'localhost');
  });

  it('go: keeps an explicit remote mode', () => {
    assert.equal(rewrite(base('go', { mode: 'remote' }), at).mode, 'remote');
  });
});

describe('user fields', () => {
  it('are left untouched, and the input is not modified', () => {
    const config = base('debugpy', {
      justMyCode: false,
      pathMappings: [{ localRoot: '${workspaceFolder}', remoteRoot: '/app' }],
      env: { A: '1' },
    });
    const before = structuredClone(config);
    const out = rewrite(config, at);
    assert.deepEqual(config, before, 'input modified');
    const { connect, ...rest } = out;
    assert.deepEqual(rest, before);
    assert.deepEqual(connect, { host: '127.0.0.1', port: 40123 });
  });

  it('node: localRoot, remoteRoot and skipFiles pass through', () => {
    const extra = { localRoot: '/src', remoteRoot: '/app', skipFiles: ['<node_internals>/**'], restart: false };
    const out = rewrite(base('node', extra), at);
    for (const [k, v] of Object.entries(extra)) {
      assert.deepEqual(out[k], v);
    }
  });
});

describe('errors', () => {
  const fails = (config: DebugConfig, pattern: RegExp): void =>
    assert.throws(() => rewrite(config, at), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));

  it('an unknown debug type names the supported ones', () => fails(base('cppdbg'), /"cppdbg".*supported: debugpy/));
  it('a launch request', () => fails(base('node', { request: 'launch' }), /"request": "attach", not "launch"/));
  it('debugpy listen (connects back to the IDE)', () => fails(base('debugpy', { listen: { port: 5678 } }), /listen/));
  it('node websocketAddress', () => fails(base('node', { websocketAddress: 'ws://x' }), /websocketAddress/));
  it('go local mode', () => fails(base('go', { mode: 'local' }), /"mode": "remote"/));
});

describe('endpointOf', () => {
  it('parses IPv4 and IPv6 local addresses', () => {
    assert.deepEqual(endpointOf('127.0.0.1:5678'), { host: '127.0.0.1', port: 5678 });
    assert.deepEqual(endpointOf('[::1]:5678'), { host: '::1', port: 5678 });
  });
  it('refuses anything else', () => {
    assert.throws(() => endpointOf('nonsense'), ConfigError);
  });
});
