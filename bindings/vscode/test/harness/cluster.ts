// Real processes for the integration tests: tether-testkit (the emulated cluster) and a private
// tetherd, each stopped with SIGTERM (then SIGKILL after a deadline).

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bin } from './bins';

/** A started process and how to stop it. */
export interface Proc {
  child: ChildProcess;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess, graceMs = 10_000): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve();
        return;
      }
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/** Starts `tether-testkit serve` with `fixture` (YAML text); resolves once it printed `ready`. */
export async function startTestkit(dir: string, fixture: string, timeoutMs = 30_000): Promise<Proc & { kubeconfig: string }> {
  const config = path.join(dir, 'fixture.yaml');
  const kubeconfig = path.join(dir, 'kubeconfig');
  fs.writeFileSync(config, fixture);
  const stderr = fs.openSync(path.join(dir, 'testkit.log'), 'a');
  const child = spawn(bin('tether-testkit'), ['serve', '--kubeconfig-out', kubeconfig, '--config', config], {
    stdio: ['ignore', 'pipe', stderr],
  });
  fs.closeSync(stderr);
  const stop = stopper(child);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`tether-testkit was not ready within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      void stop().then(() => reject(new Error(`${err.message}; see ${dir}/testkit.log`)));
    };
    child.once('exit', (code) => fail(new Error(`tether-testkit exited (${code})`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/^ready kubeconfig=/m.test(out)) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve();
      }
    });
  });
  return { child, stop, kubeconfig };
}

/** Starts a private tetherd on `socket` and returns at once; callers wait until it answers. */
export function startTetherd(dir: string, socket: string): Proc {
  const log = fs.openSync(path.join(dir, 'tetherd.log'), 'a');
  const child = spawn(bin('tetherd'), ['--socket', socket, '--state-dir', path.join(dir, 'state')], {
    stdio: ['ignore', log, log],
    env: { ...process.env, TETHER_LOG: process.env.TETHER_LOG ?? 'info' },
  });
  fs.closeSync(log);
  return { child, stop: stopper(child) };
}

/** Retries `fn` until it resolves, or rejects with its last error after `timeoutMs`. */
export async function eventually<T>(what: string, fn: () => Promise<T>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`${what}: not within ${timeoutMs} ms: ${err instanceof Error ? err.message : String(err)}`);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}
