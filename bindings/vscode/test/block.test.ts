// The `tether` block: defaults, every problem reported at once, and the deterministic name.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseBlock } from '../src/debug/block';
import { forwardName, MAX_NAME } from '../src/debug/name';
import { specOf } from '../src/debug/resolve';

describe('parseBlock', () => {
  it('fills defaults, and a number port becomes text', () => {
    assert.deepEqual(parseBlock({ target: 'deploy/api', port: 5678 }, 'prompt'), {
      target: 'deploy/api',
      namespace: '',
      context: '',
      kubeconfig: '',
      port: '5678',
      localPort: 0,
      reattach: 'prompt',
    });
  });

  it('takes the issue example as written', () => {
    const b = parseBlock({ target: 'deploy/api', namespace: 'shop', port: '5678', reattach: 'auto' }, 'off');
    assert.equal(b.namespace, 'shop');
    assert.equal(b.port, '5678');
    assert.equal(b.reattach, 'auto');
  });

  it('accepts a port name', () => {
    assert.equal(parseBlock({ target: 'pod/x', port: 'debug' }, 'auto').port, 'debug');
  });

  it('reports every problem at once', () => {
    assert.throws(
      () => parseBlock({ port: 70000, reattach: 'sometimes', localPort: -1, colour: 'red' }, 'auto'),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        for (const part of ['tether.target is required', '70000', 'tether.reattach', 'tether.localPort', 'tether.colour']) {
          assert.ok(e.message.includes(part), `${part} missing from: ${e.message}`);
        }
        return true;
      },
    );
  });

  it('refuses a block that is not an object', () => {
    assert.throws(() => parseBlock('deploy/api', 'auto'), ConfigError);
    assert.throws(() => parseBlock(null, 'auto'), ConfigError);
  });
});

describe('forwardName', () => {
  const block = parseBlock({ target: 'deploy/api', namespace: 'shop', port: 5678 }, 'auto');

  it('is deterministic, readable, and a DNS-1123 label', () => {
    const name = forwardName(block);
    assert.equal(name, forwardName({ ...block }));
    assert.match(name, /^dbg-deploy-api-5678-[0-9a-f]{8}$/);
  });

  it('does not depend on the policy or the kubeconfig', () => {
    assert.equal(forwardName({ ...block, reattach: 'off', kubeconfig: '/x' } as typeof block), forwardName(block));
  });

  it('differs by target, namespace, context, port and local port', () => {
    const names = new Set([
      forwardName(block),
      forwardName({ ...block, target: 'deploy/web' }),
      forwardName({ ...block, namespace: 'other' }),
      forwardName({ ...block, context: 'prod' }),
      forwardName({ ...block, port: '5679' }),
      forwardName({ ...block, localPort: 15678 }),
    ]);
    assert.equal(names.size, 6);
  });

  it('fits 63 characters for long targets, and sanitizes dots and case', () => {
    const long = forwardName({ ...block, target: `sts/${'Very.Long-Name'.repeat(10)}` });
    assert.ok(long.length <= MAX_NAME, long);
    assert.match(long, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    assert.match(forwardName({ ...block, target: 'api-0.x' }), /^dbg-pod-api-0-x-5678-/);
  });
});

describe('specOf', () => {
  const block = parseBlock({ target: 'deploy/api', port: 5678 }, 'auto');

  it('asks for any free local port, with the derived name', () => {
    const spec = specOf(block, { envKubeconfig: '', cwd: '/w' });
    assert.deepEqual(spec.ports, [':5678']);
    assert.equal(spec.name, forwardName(block));
    assert.equal(spec.kubeconfig, '');
  });

  it('uses a fixed local port, and makes a relative kubeconfig absolute', () => {
    const spec = specOf({ ...block, localPort: 15678, kubeconfig: 'kc.yaml' }, { envKubeconfig: '/env/kc', cwd: '/w' });
    assert.deepEqual(spec.ports, ['15678:5678']);
    assert.equal(spec.kubeconfig, '/w/kc.yaml');
  });

  it("falls back to the extension host's KUBECONFIG", () => {
    assert.equal(specOf(block, { envKubeconfig: 'a:/b', cwd: '/w' }).kubeconfig, '/w/a:/b');
  });
});
