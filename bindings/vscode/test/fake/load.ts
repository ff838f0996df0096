// Loads the bundled dist/extension.js with `vscode` resolved to a fake.

import Module from 'node:module';
import * as path from 'node:path';
import type { Fake } from './vscode';

/** The extension's folder (bindings/vscode), from out/test/fake. */
export const EXT_ROOT = path.resolve(__dirname, '../../..');
export const BUNDLE = path.join(EXT_ROOT, 'dist/extension.js');

export interface Bundle {
  activate(context: unknown): {
    schemaFile: string;
    socket(): string;
    store: { list(): { spec: { name: string }; status: { phase: string; pod: string; local_addresses: string[] } }[]; connected: boolean };
    onDecision(listener: (session: { forward: string; config: Record<string, unknown> }, decision: { action: string }) => void): { dispose(): void };
  };
  deactivate(): void;
}

/** A fresh copy of the bundle whose `require('vscode')` gets `fake.module`. */
export function loadBundle(fake: Fake): Bundle {
  const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = loader._load;
  loader._load = function (request: string, ...rest: unknown[]) {
    return request === 'vscode' ? fake.module : original.call(this, request, ...rest);
  };
  try {
    delete require.cache[require.resolve(BUNDLE)];
    return require(BUNDLE) as Bundle;
  } finally {
    loader._load = original;
  }
}
