// Starting tetherd through the CLI (`tether daemon start`), so the CLI's lifecycle lock decides
// who starts it, and connecting once it answers.

import { execFile } from 'node:child_process';
import { TetherError } from './api/errors';

/** How long `tether daemon start` may take (it waits up to 10 s for the daemon itself). */
const START_MS = 20_000;

/** Runs `CLI --socket SOCKET daemon start`; resolves with its output, rejects with a TetherError. */
export function startDaemon(cli: string, socket: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cli, ['--socket', socket, 'daemon', 'start'], { timeout: START_MS }, (err, stdout, stderr) => {
      if (!err) {
        resolve(stdout);
        return;
      }
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? `\`${cli}\` was not found; install the tether CLI or set tether.cliPath`
          : (stderr.trim() || err.message).split('\n').slice(-3).join(' ');
      reject(new TetherError('CLIENT', `failed to start tetherd with \`${cli} daemon start\`: ${why}`));
    });
  });
}

/** Connects; when nothing answers, starts the daemon with `start` and connects again. */
export async function connectOrStart<C>(connect: () => Promise<C>, start: () => Promise<unknown>): Promise<C> {
  try {
    return await connect();
  } catch (err) {
    if (!(err instanceof TetherError) || err.code !== 'UNAVAILABLE') {
      throw err;
    }
  }
  await start();
  return connect();
}
