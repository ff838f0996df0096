// Bundles src/extension.ts into dist/extension.js (only `vscode` stays external) and copies the
// committed tether.v1 schema beside it, from the one file the Python bindings load too.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const SCHEMA = path.resolve(root, '../python/src/tether/_proto/tether_v1.binpb');
const dist = path.join(root, 'dist');

fs.rmSync(dist, { recursive: true, force: true });
await esbuild.build({
  entryPoints: [path.join(root, 'src/extension.ts')],
  bundle: true,
  outfile: path.join(dist, 'extension.js'),
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  external: ['vscode'],
  sourcemap: 'linked',
  logLevel: 'warning',
});
fs.copyFileSync(SCHEMA, path.join(dist, 'tether_v1.binpb'));
console.log(`built ${path.relative(root, dist)}/extension.js and copied ${path.relative(root, SCHEMA)}`);
