// The Pseudoterminal bridge against a scripted AttachSession stream.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { AttachRequest, AttachResponse, Session } from '../src/api/types';
import { AttachBridge, type AttachStreamLike } from '../src/sessions/bridge';

class FakeStream extends EventEmitter implements AttachStreamLike {
  sent: AttachRequest[] = [];
  ended = false;
  write(r: AttachRequest): boolean {
    this.sent.push(r);
    return true;
  }
  end(): void {
    this.ended = true;
  }
  reply(r: AttachResponse): void {
    this.emit('data', r);
  }
}

const session = (tty: boolean, stdin = true): Session =>
  ({
    id: 's1',
    spec: { target: 'toolbox', command: ['sh'], stdin, tty },
    phase: 'SESSION_PHASE_RUNNING',
    pod: 'toolbox',
  }) as unknown as Session;

function setup(tty = true, stdin = true) {
  const stream = new FakeStream();
  const out: string[] = [];
  const closes: (number | undefined)[] = [];
  const bridge = new AttachBridge('s1', () => stream, { write: (t) => out.push(t), close: (c) => closes.push(c) });
  bridge.open({ columns: 120, rows: 40 });
  stream.reply({ kind: 'session', session: session(tty, stdin) });
  return { stream, out, closes, bridge, text: () => out.join('') };
}

describe('AttachBridge', () => {
  it('opens the session first, then sends the terminal size', () => {
    const { stream } = setup();
    assert.deepEqual(stream.sent, [{ open: { session: 's1', no_replay: false } }, { resize: { width: 120, height: 40 } }]);
  });

  it('writes replay then live output, decoding UTF-8 split across chunks', () => {
    const { stream, text } = setup();
    const bytes = Buffer.from('héllo $ ', 'utf8');
    stream.reply({ kind: 'output', output: { data: bytes.subarray(0, 2), stderr: false } });
    stream.reply({ kind: 'output', output: { data: bytes.subarray(2), stderr: false } });
    stream.reply({ kind: 'replay_done', replay_done: true });
    stream.reply({ kind: 'output', output: { data: Buffer.from('ls\r\n'), stderr: false } });
    assert.equal(text(), 'héllo $ ls\r\n');
  });

  it('without a TTY, turns \\n into \\r\\n and echoes typed keys', () => {
    const { stream, text, bridge } = setup(false);
    stream.reply({ kind: 'output', output: { data: Buffer.from('a\nb\r\nc'), stderr: false } });
    assert.ok(text().endsWith('a\r\nb\r\nc'), JSON.stringify(text()));
    bridge.handleInput('ls\r');
    assert.deepEqual(stream.sent.at(-1), { stdin: Buffer.from('ls\n') });
    assert.ok(text().endsWith('ls\r\n'));
  });

  it('passes keys as stdin and resizes with a TTY', () => {
    const { stream, bridge } = setup();
    bridge.handleInput('\x03');
    bridge.setDimensions({ columns: 80, rows: 24 });
    assert.deepEqual(stream.sent.slice(-2), [{ stdin: Buffer.from('\x03') }, { resize: { width: 80, height: 24 } }]);
  });

  it('sends no stdin to a session that takes none, and says so', () => {
    const { stream, bridge, text } = setup(true, false);
    bridge.handleInput('x');
    assert.equal(stream.sent.filter((r) => 'stdin' in r).length, 0);
    assert.match(text(), /takes no input/);
  });

  it('tells when output was skipped (lagged)', () => {
    const { stream, text } = setup();
    stream.reply({ kind: 'lagged', lagged: 65536 });
    assert.match(text(), /65536 bytes of output were skipped/);
  });

  it('notes reconnects, and the end of the session; the next key closes the terminal', () => {
    const { stream, text, bridge, closes } = setup();
    stream.reply({ kind: 'changed', changed: { ...session(true), phase: 'SESSION_PHASE_RECONNECTING', reason: 'connection lost' } });
    assert.match(text(), /reconnecting: connection lost/);
    stream.reply({
      kind: 'changed',
      changed: { ...session(true), phase: 'SESSION_PHASE_EXITED', exit: { kind: 'code', code: 3, reason: '' } },
    });
    assert.match(text(), /session s1 exited with code 3; press any key/);
    const sent = stream.sent.length;
    bridge.handleInput('q');
    assert.equal(stream.sent.length, sent, 'key sent after the end');
    assert.deepEqual(closes, [undefined]);
  });

  it('closing the terminal detaches and ends the stream', () => {
    const { stream, bridge } = setup();
    bridge.close();
    assert.deepEqual(stream.sent.at(-1), { detach: true });
    assert.equal(stream.ended, true);
  });

  it('a broken stream says so', () => {
    const { stream, text } = setup();
    stream.emit('error', Object.assign(new Error('14 UNAVAILABLE'), { details: 'Connection dropped' }));
    assert.match(text(), /connection to tetherd lost: Connection dropped/);
  });
});
