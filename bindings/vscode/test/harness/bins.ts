// The prerequisites of the tests that run real programs: found only through TETHER_BIN_DIR and
// TETHER_PYTHON, and a clear failure (never a skip) when one is missing.

import * as fs from 'node:fs';
import * as path from 'node:path';

/** The extension's folder, from out/test/harness. */
export const EXT_ROOT = path.resolve(__dirname, '../../..');
/** The one committed schema file (the Python bindings load it too). */
export const SCHEMA = path.resolve(EXT_ROOT, '../python/src/tether/_proto/tether_v1.binpb');

/** The path of a Tether binary in TETHER_BIN_DIR; throws a message saying what to do. */
export function bin(name: 'tetherd' | 'tether' | 'tether-testkit'): string {
  const dir = process.env.TETHER_BIN_DIR;
  if (!dir) {
    throw new Error(
      'TETHER_BIN_DIR is not set: point it at the built binaries (cargo build --workspace --bins; ' +
        'TETHER_BIN_DIR=target/debug), or run `cargo xtask test node`',
    );
  }
  const file = path.resolve(dir, name);
  if (!fs.existsSync(file)) {
    throw new Error(`${name} is missing from TETHER_BIN_DIR (${file}); build it with cargo build --workspace --bins`);
  }
  return file;
}

/** A Python with debugpy installed (TETHER_PYTHON); `cargo xtask test node` prepares one. */
export function python(): string {
  const py = process.env.TETHER_PYTHON;
  if (!py) {
    throw new Error(
      'TETHER_PYTHON is not set: it must name a Python with debugpy installed ' +
        '(`cargo xtask test node` creates target/venv with the pinned debugpy)',
    );
  }
  if (!fs.existsSync(py)) {
    throw new Error(`TETHER_PYTHON (${py}) does not exist`);
  }
  return py;
}
