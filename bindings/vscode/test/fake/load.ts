// Loads the bundled dist/extension.js with `vscode` resolved to a fake.

import Module from 'node:module';
import * as path from 'node:path';
import type { TetherApi } from '../../src/extension';
import { EXT_ROOT } from '../harness/bins';
import type { Fake } from './vscode';

export const BUNDLE = path.join(EXT_ROOT, 'dist/extension.js');

export interface Bundle {
  activate(context: unknown): TetherApi;
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
