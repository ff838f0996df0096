// The connection to tetherd that the extension shares: made on demand, replaced when the event
// feed reconnects, and started through the CLI when a user action needs the daemon.

import { TetherClient } from './api/client';
import type { Services } from './api/schema';
import { connectOrStart, startDaemon } from './daemon';

export interface ConnectionOptions {
  /** The socket to use now (settings may change). */
  socket(): string;
  /** The CLI to start the daemon with. */
  cli(): string;
  services(): Services;
  clientVersion: string;
  uid: number;
  log(message: string): void;
}

export class Connection {
  private client: TetherClient | undefined;
  private starting: Promise<TetherClient> | undefined;

  constructor(private readonly opts: ConnectionOptions) {}

  /** The last handshaken client, if any. */
  get current(): TetherClient | undefined {
    return this.client;
  }

  /** Connects afresh (handshake included), replacing the current client. */
  async connect(): Promise<TetherClient> {
    const client = await TetherClient.connect({
      socket: this.opts.socket(),
      services: this.opts.services(),
      clientVersion: this.opts.clientVersion,
      uid: this.opts.uid,
    });
    this.client?.close();
    this.client = client;
    this.opts.log(`connected to tetherd ${client.handshake.daemon_version} at ${client.socket}`);
    return client;
  }

  /** The current client, or a new one; runs `tether daemon start` when none answers. */
  ensure(): Promise<TetherClient> {
    if (this.client && this.client.socket === this.opts.socket()) {
      return Promise.resolve(this.client);
    }
    this.starting ??= connectOrStart(
      () => this.connect(),
      async () => {
        this.opts.log(`starting tetherd: ${this.opts.cli()} --socket ${this.opts.socket()} daemon start`);
        this.opts.log((await startDaemon(this.opts.cli(), this.opts.socket())).trim());
      },
    ).finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /** Forgets the client (the daemon went away). */
  drop(): void {
    this.client?.close();
    this.client = undefined;
  }

  dispose(): void {
    this.drop();
  }
}
