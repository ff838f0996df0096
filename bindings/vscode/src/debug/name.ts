// The name of the forward a debug configuration uses: the same block always gives the same name,
// so resolving a configuration again (or in another window) finds the same forward.

import { createHash } from 'node:crypto';
import type { TetherBlock } from './block';

/** Forward names are DNS-1123 labels: at most 63 characters. */
export const MAX_NAME = 63;

/**
 * `dbg-<kind>-<name>-<port>-<hash>`: readable, and unique per target, namespace, context and
 * ports through the hash (8 hex digits of SHA-256), cut so that the whole fits 63 characters.
 */
export function forwardName(block: Pick<TetherBlock, 'target' | 'namespace' | 'context' | 'port' | 'localPort'>): string {
  const identity = JSON.stringify([block.target, block.namespace, block.context, block.port, block.localPort]);
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 8);
  const [kind, name] = block.target.includes('/') ? block.target.split('/', 2) : ['pod', block.target];
  const readable = sanitize(`dbg-${kind}-${name}-${block.port}`)
    .slice(0, MAX_NAME - hash.length - 1)
    .replace(/-+$/, '');
  return `${readable}-${hash}`;
}

/** Lower case, and runs of anything but letters and digits become one '-'. */
function sanitize(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
