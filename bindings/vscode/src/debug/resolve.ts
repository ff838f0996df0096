// Resolving a debug configuration with a `tether` block: ensure its forward, wait for Ready,
// point the debugger at the forward's local end, and mark the configuration for re-attach.

import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { phaseName, reasonName } from '../api/names';
import type { CreateForwardResponse, Forward, ForwardSpec } from '../api/types';
import { ConfigError, parseBlock, type Policy, type TetherBlock } from './block';
import { forwardName } from './name';
import { endpointOf, rewrite, type DebugConfig } from './rewrite';

/** The member a resolved configuration carries, so the extension knows its forward. */
export const MARKER = '__tether';

/** What a resolved configuration remembers (under MARKER). */
export interface Marker {
  /** Unique per resolution: the extension keeps the configuration as written under it. */
  id: string;
  /** The forward the debugger attaches through. */
  forward: string;
  /** The pod that served when the configuration was resolved. */
  pod: string;
  /** The local address the debugger was pointed at. */
  local: string;
  reattach: Policy;
}

/** The part of the client that resolving uses. */
export interface ForwardEnsurer {
  createForward(spec: ForwardSpec, waitReady: boolean, waitTimeoutMs?: number): Promise<CreateForwardResponse>;
}

export interface ResolveOptions {
  /** The `tether.reattach` setting, for blocks that name no policy. */
  policy: Policy;
  /** KUBECONFIG of the extension host, sent when the block names no kubeconfig. */
  envKubeconfig: string;
  /** The folder relative kubeconfig paths start from (the workspace folder). */
  cwd: string;
  /** How long to wait for Ready. */
  waitMs: number;
}

export interface Resolved {
  config: DebugConfig;
  /** What `config` carries under MARKER. */
  marker: Marker;
}

/** Whether a configuration asks for a forward. */
export function hasTetherBlock(config: DebugConfig): boolean {
  return config.tether !== undefined;
}

/** The spec of a block's forward; the same block always gives the same spec. */
export function specOf(block: TetherBlock, opts: Pick<ResolveOptions, 'envKubeconfig' | 'cwd'>): ForwardSpec {
  const kubeconfig = block.kubeconfig || opts.envKubeconfig;
  return {
    name: forwardName(block),
    target: block.target,
    namespace: block.namespace,
    context: block.context,
    kubeconfig: kubeconfig ? absoluteKubeconfig(kubeconfig, opts.cwd) : '',
    ports: [`${block.localPort || ''}:${block.port}`],
    address: '',
  };
}

/** Resolves `config`; throws ConfigError or TetherError with the reason to show. */
export async function resolveTether(config: DebugConfig, client: ForwardEnsurer, opts: ResolveOptions): Promise<Resolved> {
  const block = parseBlock(config.tether, opts.policy);
  rewrite(config, { host: '127.0.0.1', port: 1 }); // checks type and request before any forward exists
  const spec = specOf(block, opts);
  const { forward } = await client.createForward(spec, true, opts.waitMs);
  if (forward.status.phase !== 'PHASE_READY') {
    throw new ConfigError(notReady(forward, opts.waitMs));
  }
  const local = forward.status.local_addresses[0];
  if (!local) {
    throw new ConfigError(`forward ${forward.spec.name} is Ready but reports no local address`);
  }
  const out = rewrite(config, endpointOf(local));
  const marker: Marker = { id: randomUUID(), forward: forward.spec.name, pod: forward.status.pod, local, reattach: block.reattach };
  out[MARKER] = marker;
  return { config: out, marker };
}

/** The marker of a resolved configuration, if it has a valid one. */
export function markerOf(config: Record<string, unknown>): Marker | undefined {
  const m = config[MARKER] as Partial<Marker> | undefined;
  if (!m || typeof m.forward !== 'string' || typeof m.reattach !== 'string') {
    return undefined;
  }
  return { id: String(m.id ?? ''), forward: m.forward, pod: String(m.pod ?? ''), local: String(m.local ?? ''), reattach: m.reattach };
}

function notReady(forward: Forward, waitMs: number): string {
  const s = forward.status;
  const why = s.reason ? `: ${reasonName(s.reason_kind)}: ${s.reason}` : '';
  const state = s.phase === 'PHASE_FAILED' ? 'failed' : `is ${phaseName(s.phase)} after ${Math.round(waitMs / 1000)} s`;
  return `forward ${forward.spec.name} to ${forward.spec.target} ${state}${why}`;
}

function absoluteKubeconfig(value: string, cwd: string): string {
  // KUBECONFIG may list several files; each is made absolute, as the CLI does.
  return value
    .split(path.delimiter)
    .map((p) => (p && !path.isAbsolute(p) ? path.resolve(cwd, p) : p))
    .join(path.delimiter);
}
