// Where tetherd's socket is (the rules of proto/src/paths.rs), and whether it can be trusted.

import * as fs from 'node:fs';
import * as path from 'node:path';

/** The environment variable that moves the socket, as for the CLI. */
export const ENV_SOCKET = 'TETHER_SOCKET';

/** What decides the socket path; passed in so that tests need no real environment. */
export interface SocketInputs {
  /** The `tether.socketPath` setting; empty when unset. */
  setting: string;
  env: Record<string, string | undefined>;
  uid: number;
  /** The user's home folder (`os.homedir()`); empty when there is none. */
  home: string;
  tmpdir: string;
}

/**
 * The socket: the setting, else TETHER_SOCKET, else `$XDG_RUNTIME_DIR/tether/tetherd.sock`, else
 * (macOS, or Linux without it) `$XDG_STATE_HOME/tether/run/tetherd.sock`
 * (`~/.local/state/tether/run`), else (no home) `<tmpdir>/tether-<uid>/tetherd.sock`.
 */
export function socketPath(inputs: SocketInputs): string {
  if (inputs.setting) {
    return inputs.setting;
  }
  const fromEnv = inputs.env[ENV_SOCKET];
  if (fromEnv) {
    return fromEnv;
  }
  return path.join(runtimeDir(inputs), 'tetherd.sock');
}

function runtimeDir(inputs: SocketInputs): string {
  const runtime = inputs.env.XDG_RUNTIME_DIR;
  if (runtime) {
    return path.join(runtime, 'tether');
  }
  const state = inputs.env.XDG_STATE_HOME;
  if (state && path.isAbsolute(state)) {
    return path.join(state, 'tether', 'run');
  }
  const home = inputs.env.HOME || inputs.home;
  if (home && path.isAbsolute(home)) {
    return path.join(home, '.local', 'state', 'tether', 'run');
  }
  return path.join(inputs.tmpdir, `tether-${inputs.uid}`);
}

/** The parts of a stat result the trust rule reads. */
export interface Owned {
  uid: number;
  mode: number;
}

/** Reads ownership; `fs.statSync` in production, a table in tests. */
export type StatFn = (file: string) => Owned;

/**
 * Why the socket at `socket` must not be used, or `undefined` when it may: its folder must be
 * owned by `uid` and not writable by group or others (anyone else could swap the socket), and
 * the socket must be owned by `uid`. A socket that does not exist yet is not refused here.
 */
export function distrust(socket: string, uid: number, stat: StatFn = fs.statSync): string | undefined {
  const dir = path.dirname(socket);
  let folder: Owned;
  try {
    folder = stat(dir);
  } catch {
    return undefined; // nothing there yet: connecting fails, or the daemon creates it 0700
  }
  const mode = (m: number): string => (m & 0o7777).toString(8).padStart(4, '0');
  if (folder.uid !== uid || (folder.mode & 0o022) !== 0) {
    return (
      `refusing tetherd's socket folder ${dir}: owner uid ${folder.uid}, mode ${mode(folder.mode)}; ` +
      `it must be owned by uid ${uid} and not writable by group or others (chmod 700 ${dir})`
    );
  }
  let sock: Owned;
  try {
    sock = stat(socket);
  } catch {
    return undefined;
  }
  if (sock.uid !== uid) {
    return `refusing tetherd's socket ${socket}: owner uid ${sock.uid}, mode ${mode(sock.mode)}; it must be owned by uid ${uid}`;
  }
  return undefined;
}
