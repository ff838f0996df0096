// The socket path rules (as proto/src/paths.rs) and the trust check.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { distrust, socketPath, type Owned } from '../src/socket';

describe('socketPath', () => {
  const inputs = { setting: '', env: {}, uid: 1000, home: '/home/me', tmpdir: '/tmp' };
  const inHome = '/home/me/.local/state/tether/run/tetherd.sock';
  it('setting, then TETHER_SOCKET, then XDG_RUNTIME_DIR, then the state home, then the temp folder', () => {
    const env = { TETHER_SOCKET: '/env/s.sock', XDG_RUNTIME_DIR: '/run/user/1000' };
    assert.equal(socketPath({ ...inputs, setting: '/set/s.sock', env }), '/set/s.sock');
    assert.equal(socketPath({ ...inputs, env }), '/env/s.sock');
    assert.equal(socketPath({ ...inputs, env: { XDG_RUNTIME_DIR: '/run/user/1000' } }), '/run/user/1000/tether/tetherd.sock');
    assert.equal(socketPath({ ...inputs, env: { XDG_STATE_HOME: '/state' } }), '/state/tether/run/tetherd.sock');
    assert.equal(socketPath(inputs), inHome);
    assert.equal(socketPath({ ...inputs, env: { HOME: '/home/other' } }), '/home/other/.local/state/tether/run/tetherd.sock');
    assert.equal(socketPath({ ...inputs, home: '' }), '/tmp/tether-1000/tetherd.sock');
  });
  it('ignores empty variables and a relative XDG_STATE_HOME', () => {
    assert.equal(socketPath({ ...inputs, env: { TETHER_SOCKET: '', XDG_RUNTIME_DIR: '' } }), inHome);
    assert.equal(socketPath({ ...inputs, env: { XDG_STATE_HOME: 'rel' } }), inHome);
  });
});

describe('distrust', () => {
  const table =
    (entries: Record<string, Owned>) =>
    (file: string): Owned => {
      const e = entries[file];
      if (!e) {
        throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      }
      return e;
    };

  it('trusts a private folder and an own socket', () => {
    const stat = table({ '/run/t': { uid: 1000, mode: 0o40700 }, '/run/t/s': { uid: 1000, mode: 0o140600 } });
    assert.equal(distrust('/run/t/s', 1000, stat), undefined);
  });

  it('refuses a folder writable by others, naming path, owner and mode', () => {
    const stat = table({ '/tmp/t': { uid: 1000, mode: 0o41777 }, '/tmp/t/s': { uid: 1000, mode: 0o140600 } });
    assert.match(distrust('/tmp/t/s', 1000, stat)!, /\/tmp\/t: owner uid 1000, mode 1777/);
  });

  it('refuses a folder writable by its group', () => {
    const stat = table({ '/d': { uid: 1000, mode: 0o40770 } });
    assert.match(distrust('/d/s', 1000, stat)!, /mode 0770/);
  });

  it("refuses another user's folder or socket", () => {
    assert.match(distrust('/d/s', 1000, table({ '/d': { uid: 0, mode: 0o40700 } }))!, /owner uid 0/);
    const stat = table({ '/d': { uid: 1000, mode: 0o40700 }, '/d/s': { uid: 1001, mode: 0o140600 } });
    assert.match(distrust('/d/s', 1000, stat)!, /socket \/d\/s: owner uid 1001/);
  });

  it('leaves a socket that does not exist yet to the connect', () => {
    assert.equal(distrust('/nope/s', 1000, table({})), undefined);
  });

  it('reads real files', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-trust-'));
    try {
      const uid = process.getuid!();
      assert.equal(distrust(path.join(dir, 's'), uid), undefined);
      fs.chmodSync(dir, 0o777);
      assert.match(distrust(path.join(dir, 's'), uid)!, /mode 0777/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
