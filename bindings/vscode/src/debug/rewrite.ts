// Where each debugger reads the address it attaches to, and the rewrite that points it at the
// forward's local end. Every other field of the configuration is left as the user wrote it.

import { ConfigError } from './block';

/** A debug configuration as VS Code passes it: `type`, `request`, `name` and anything else. */
export type DebugConfig = Record<string, unknown> & { type?: string; request?: string; name?: string };

/** The forward's local end. */
export interface Endpoint {
  host: string;
  port: number;
}

type Rewrite = (config: DebugConfig, at: Endpoint) => void;

/** Python (debugpy): `connect`, or the legacy top-level `host` and `port` when the user used those. */
const python: Rewrite = (config, at) => {
  if (config.listen !== undefined) {
    throw new ConfigError(
      '"listen" makes debugpy connect back to VS Code, which a forward cannot carry; use "connect" (the default)',
    );
  }
  const legacy = config.host !== undefined || config.port !== undefined;
  if (config.connect !== undefined || !legacy) {
    const connect = typeof config.connect === 'object' && config.connect !== null ? config.connect : {};
    config.connect = { ...connect, host: at.host, port: at.port };
  }
  if (legacy) {
    config.host = at.host;
    config.port = at.port;
  }
};

/** Node (js-debug): `address` and `port`. */
const node: Rewrite = (config, at) => {
  if (config.websocketAddress !== undefined) {
    throw new ConfigError('"websocketAddress" bypasses "address" and "port"; remove it to attach through a forward');
  }
  config.address = at.host;
  config.port = at.port;
};

/** Java (vscode-java-debug): `hostName` and `port`. */
const java: Rewrite = (config, at) => {
  config.hostName = at.host;
  config.port = at.port;
};

/** Go (delve, vscode-go): `host` and `port`, in remote mode. */
const go: Rewrite = (config, at) => {
  if (config.mode !== undefined && config.mode !== 'remote') {
    throw new ConfigError(`a Go attach through a forward needs "mode": "remote", not "${String(config.mode)}"`);
  }
  config.mode = 'remote';
  config.host = at.host;
  config.port = at.port;
};

/** Chrome and Edge (js-debug): `port`. */
const browser: Rewrite = (config, at) => {
  config.port = at.port;
};

/** The table: debug type → rewrite. */
export const REWRITES: Readonly<Record<string, Rewrite>> = {
  debugpy: python,
  python,
  node,
  'pwa-node': node,
  java,
  go,
  chrome: browser,
  'pwa-chrome': browser,
  msedge: browser,
  'pwa-msedge': browser,
};

/** The debug types a `tether` block works with. */
export const SUPPORTED_TYPES: readonly string[] = Object.keys(REWRITES);

/**
 * A copy of `config` whose debugger attaches to `at`. Throws a ConfigError for a launch request,
 * an unknown type, or fields that would bypass the forward.
 */
export function rewrite(config: DebugConfig, at: Endpoint): DebugConfig {
  const type = config.type ?? '';
  const fn = REWRITES[type];
  if (!fn) {
    throw new ConfigError(
      `debug type "${type}" cannot attach through a tether forward; supported: ${SUPPORTED_TYPES.join(', ')}`,
    );
  }
  if (config.request !== 'attach') {
    throw new ConfigError(`a "tether" block needs "request": "attach", not "${String(config.request)}"`);
  }
  const out = structuredClone(config);
  fn(out, at);
  return out;
}

/** The endpoint of a local address such as `127.0.0.1:5678` or `[::1]:5678`. */
export function endpointOf(address: string): Endpoint {
  const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(address);
  if (!match) {
    throw new ConfigError(`tetherd reported a local address "${address}" that is not HOST:PORT`);
  }
  return { host: match[1]!, port: Number(match[2]) };
}
