// A handshaken connection to tetherd over its Unix socket: the calls the extension makes, as
// promises and streams of the shapes in `types.ts`.

import * as grpc from '@grpc/grpc-js';
import { fromServiceError, TetherError } from './errors';
import type { Services } from './schema';
import type {
  CreateForwardResponse,
  Event,
  Forward,
  ForwardSpec,
  HandshakeResponse,
  Session,
} from './types';
import { distrust } from '../socket';

/** The API major version this client speaks (tether.v1). */
export const API_MAJOR = 1;

/** Deadline of calls that return at once, in milliseconds. */
const CALL_MS = 10_000;

export interface ConnectOptions {
  socket: string;
  services: Services;
  /** This extension's version, sent in the handshake and shown on a mismatch. */
  clientVersion: string;
  uid: number;
}

type Callback<T> = (err: grpc.ServiceError | null, value?: T) => void;
type Unary = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, cb: Callback<unknown>) => void;

/** The client's channel options: tonic refuses a socket path as :authority. */
const CHANNEL_OPTIONS: grpc.ChannelOptions = { 'grpc.default_authority': 'localhost' };

export class TetherClient {
  readonly socket: string;
  readonly handshake: HandshakeResponse;
  private readonly daemon: grpc.Client;
  private readonly forwards: grpc.Client;
  private readonly sessions: grpc.Client;

  private constructor(socket: string, clients: grpc.Client[], handshake: HandshakeResponse) {
    this.socket = socket;
    [this.daemon, this.forwards, this.sessions] = clients as [grpc.Client, grpc.Client, grpc.Client];
    this.handshake = handshake;
  }

  /**
   * Checks that the socket can be trusted, connects, and performs the handshake. Throws a
   * TetherError: `CLIENT` for an untrusted socket, `INCOMPATIBLE` for another API version,
   * `UNAVAILABLE` when nothing answers.
   */
  static async connect(opts: ConnectOptions): Promise<TetherClient> {
    const refusal = distrust(opts.socket, opts.uid);
    if (refusal) {
      throw new TetherError('CLIENT', refusal);
    }
    const address = `unix:${opts.socket}`;
    const creds = grpc.credentials.createInsecure();
    const clients = [opts.services.DaemonService, opts.services.ForwardService, opts.services.SessionService].map(
      (Ctor) => new Ctor(address, creds, CHANNEL_OPTIONS),
    );
    const request = { client_version: opts.clientVersion, api_major: API_MAJOR, client_name: 'vscode' };
    let handshake: HandshakeResponse;
    try {
      handshake = await unary<HandshakeResponse>(clients[0]!, 'Handshake', request, opts.socket, 'handshake with tetherd');
    } catch (err) {
      clients.forEach((c) => c.close());
      throw err;
    }
    if (!handshake.compatible || handshake.api_major !== API_MAJOR) {
      clients.forEach((c) => c.close());
      throw new TetherError('INCOMPATIBLE', incompatible(opts.socket, opts.clientVersion, handshake));
    }
    return new TetherClient(opts.socket, clients, handshake);
  }

  createForward(spec: ForwardSpec, waitReady: boolean, waitTimeoutMs = 0): Promise<CreateForwardResponse> {
    const deadline = CALL_MS + (waitReady ? waitTimeoutMs || 30_000 : 0);
    const request = { spec, wait_ready: waitReady, wait_timeout_ms: waitTimeoutMs };
    return this.call(this.forwards, 'CreateForward', request, `create forward ${spec.name || spec.target}`, deadline);
  }

  /** Every forward, by name, following the pages of ListForwards. */
  async listForwards(): Promise<Forward[]> {
    const all: Forward[] = [];
    let pageToken = '';
    for (;;) {
      const res = await this.call<{ forwards?: Forward[]; next_page_token?: string }>(
        this.forwards,
        'ListForwards',
        { page_token: pageToken },
        'list forwards',
      );
      all.push(...(res.forwards ?? []));
      pageToken = res.next_page_token ?? '';
      if (!pageToken) {
        return all;
      }
    }
  }

  async deleteForward(name: string): Promise<void> {
    await this.call(this.forwards, 'DeleteForward', { name }, `remove forward ${name}`);
  }

  async pauseForward(name: string): Promise<Forward> {
    return (await this.call<{ forward: Forward }>(this.forwards, 'PauseForward', { name }, `pause forward ${name}`)).forward;
  }

  async resumeForward(name: string): Promise<Forward> {
    return (await this.call<{ forward: Forward }>(this.forwards, 'ResumeForward', { name }, `resume forward ${name}`))
      .forward;
  }

  async listSessions(): Promise<Session[]> {
    return (await this.call<{ sessions: Session[] }>(this.sessions, 'ListSessions', {}, 'list sessions')).sessions;
  }

  async killSession(id: string): Promise<Session> {
    return (await this.call<{ session: Session }>(this.sessions, 'KillSession', { id, graceful: false }, `kill session ${id}`))
      .session;
  }

  /** Events of every forward (and sessions), current states first. */
  watchEvents(): grpc.ClientReadableStream<Event> {
    const method = (this.forwards as unknown as Record<string, (r: unknown) => grpc.ClientReadableStream<Event>>)
      .WatchEvents!;
    return method.call(this.forwards, { names: [] });
  }

  /** The AttachSession stream; the caller sends `open` first. */
  attachSession(): grpc.ClientDuplexStream<unknown, unknown> {
    const method = (this.sessions as unknown as Record<string, () => grpc.ClientDuplexStream<unknown, unknown>>)
      .AttachSession!;
    return method.call(this.sessions);
  }

  close(): void {
    this.daemon.close();
    this.forwards.close();
    this.sessions.close();
  }

  private call<T>(client: grpc.Client, method: string, request: unknown, what: string, deadlineMs = CALL_MS): Promise<T> {
    return unary<T>(client, method, request, this.socket, what, deadlineMs);
  }
}

/** The message for a daemon of another API version: both versions, and what to do. */
export function incompatible(socket: string, clientVersion: string, h: HandshakeResponse): string {
  const advice = h.message || 'restart the daemon (`tether daemon stop`) or upgrade';
  return (
    `tetherd ${h.daemon_version} (API v${h.api_major}) at ${socket} is not compatible with ` +
    `this extension ${clientVersion} (API v${API_MAJOR}): ${advice}`
  );
}

function unary<T>(
  client: grpc.Client,
  method: string,
  request: unknown,
  socket: string,
  what: string,
  deadlineMs = CALL_MS,
): Promise<T> {
  const fn = (client as unknown as Record<string, Unary>)[method];
  if (!fn) {
    return Promise.reject(new TetherError('CLIENT', `the schema has no method ${method}`));
  }
  return new Promise<T>((resolve, reject) => {
    const options: grpc.CallOptions = { deadline: Date.now() + deadlineMs };
    fn.call(client, request, new grpc.Metadata(), options, (err, value) => {
      if (err) {
        reject(fromServiceError(err, socket, what));
      } else {
        resolve(value as T);
      }
    });
  });
}
