// The `tether` block of a debug configuration: parsed and checked, every problem reported at once.

/** What happens when a debug session ends because its forward's tunnel went down. */
export type Policy = 'auto' | 'prompt' | 'off';

export const POLICIES: readonly Policy[] = ['auto', 'prompt', 'off'];

/** A checked `tether` block. */
export interface TetherBlock {
  /** `TYPE/NAME` or a bare pod name, as for kubectl. */
  target: string;
  /** Empty: the context's namespace. */
  namespace: string;
  /** Empty: the kubeconfig's current context. */
  context: string;
  /** Empty: KUBECONFIG as the extension host sees it, else the daemon's default lookup. */
  kubeconfig: string;
  /** The remote port: a number, or a container port name. */
  port: string;
  /** The local port; 0 lets the daemon choose a free one (kept across pod restarts). */
  localPort: number;
  reattach: Policy;
}

/** A debug configuration that cannot be resolved; the message lists every problem. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const PORT_NAME = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

/** Parses `raw` (the configuration's `tether` member); `policy` applies when it names none. */
export function parseBlock(raw: unknown, policy: Policy): TetherBlock {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError('"tether" must be an object such as {"target": "deploy/api", "port": 5678}');
  }
  const obj = raw as Record<string, unknown>;
  const problems: string[] = [];
  const text = (key: string, required: boolean): string => {
    const value = obj[key];
    if (value === undefined || value === null || value === '') {
      if (required) {
        problems.push(`tether.${key} is required`);
      }
      return '';
    }
    if (typeof value !== 'string' || /\s/.test(value)) {
      problems.push(`tether.${key} must be a string without spaces`);
      return '';
    }
    return value;
  };
  const block: TetherBlock = {
    target: text('target', true),
    namespace: text('namespace', false),
    context: text('context', false),
    kubeconfig: typeof obj.kubeconfig === 'string' ? obj.kubeconfig : text('kubeconfig', false),
    port: remotePort(obj.port, problems),
    localPort: localPort(obj.localPort, problems),
    reattach: policyOf(obj.reattach, policy, problems),
  };
  const known = new Set(['target', 'namespace', 'context', 'kubeconfig', 'port', 'localPort', 'reattach']);
  for (const key of Object.keys(obj)) {
    if (!known.has(key)) {
      problems.push(`tether.${key} is not a known field (${[...known].join(', ')})`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid "tether" block: ${problems.join('; ')}`);
  }
  return block;
}

function remotePort(value: unknown, problems: string[]): string {
  const asText = typeof value === 'number' ? String(value) : value;
  if (typeof asText !== 'string' || asText === '') {
    problems.push('tether.port is required: the remote debug port, such as 5678, or a port name');
    return '';
  }
  if (/^\d+$/.test(asText)) {
    const n = Number(asText);
    if (n < 1 || n > 65535) {
      problems.push(`tether.port ${asText} is not between 1 and 65535`);
    }
    return String(n);
  }
  if (!PORT_NAME.test(asText)) {
    problems.push(`tether.port "${asText}" is neither a port number nor a port name`);
  }
  return asText;
}

function localPort(value: unknown, problems: string[]): number {
  if (value === undefined || value === null || value === '' || value === 0) {
    return 0;
  }
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
    problems.push('tether.localPort must be a port number between 1 and 65535');
    return 0;
  }
  return n;
}

function policyOf(value: unknown, fallback: Policy, problems: string[]): Policy {
  if (value === undefined || value === null || value === '') {
    return fallback;
  }
  if (typeof value === 'string' && (POLICIES as readonly string[]).includes(value)) {
    return value as Policy;
  }
  problems.push(`tether.reattach must be one of ${POLICIES.join(', ')}`);
  return fallback;
}
