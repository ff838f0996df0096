// Packaging: `vsce package --no-dependencies` makes a .vsix whose manifest declares the debugger
// type, the views, the commands and activation on debug resolve.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { EXT_ROOT, SCHEMA } from './harness/bins';
import { readZip } from './harness/zip';

const VSCE = path.join(EXT_ROOT, 'node_modules/@vscode/vsce/vsce');

describe('vsce package', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-vsix-'));
  const vsix = path.join(dir, 'tether.vsix');
  let files: Map<string, Buffer>;
  let manifest: {
    main: string;
    activationEvents: string[];
    contributes: {
      debuggers: { type: string; configurationSnippets: { label: string; body: Record<string, unknown> }[] }[];
      views: Record<string, { id: string }[]>;
      commands: { command: string }[];
    };
  };

  before(async () => {
    await promisify(execFile)(process.execPath, [VSCE, 'package', '--no-dependencies', '--skip-license', '-o', vsix], {
      cwd: EXT_ROOT,
      timeout: 120_000,
    });
    files = readZip(vsix);
    manifest = JSON.parse(files.get('extension/package.json')!.toString('utf8'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('holds the bundle and the committed schema, and no node_modules', () => {
    assert.ok(files.has('extension/dist/extension.js'));
    assert.ok(files.get('extension/dist/tether_v1.binpb')!.equals(fs.readFileSync(SCHEMA)));
    assert.deepEqual([...files.keys()].filter((f) => f.includes('node_modules') || f.includes('/src/')), []);
    assert.equal(manifest.main, './dist/extension.js');
  });

  it('declares the tether debugger type with its snippets', () => {
    const dbg = manifest.contributes.debuggers.find((d) => d.type === 'tether');
    assert.ok(dbg);
    const labels = dbg.configurationSnippets.map((s) => s.label).join('\n');
    for (const lang of ['Python', 'Node', 'Java', 'Go']) {
      assert.match(labels, new RegExp(lang));
    }
    for (const s of dbg.configurationSnippets) {
      assert.equal(s.body.request, 'attach');
      assert.ok(s.body.tether, `${s.label} has no tether block`);
    }
  });

  it('declares the views and every command', () => {
    assert.deepEqual(manifest.contributes.views.tether!.map((v) => v.id), ['tether.forwards', 'tether.sessions']);
    const commands = manifest.contributes.commands.map((c) => c.command);
    for (const c of ['createForward', 'pauseForward', 'resumeForward', 'removeForward', 'copyAddress', 'openInBrowser', 'attachSession']) {
      assert.ok(commands.includes(`tether.${c}`), c);
    }
  });

  it('activates on debug resolve of every type (onDebug) and of each supported one', () => {
    const events = manifest.activationEvents;
    assert.ok(events.includes('onDebug'));
    for (const t of ['tether', 'debugpy', 'node', 'pwa-node', 'java', 'go', 'chrome', 'msedge']) {
      assert.ok(events.includes(`onDebugResolve:${t}`), t);
    }
  });
});
