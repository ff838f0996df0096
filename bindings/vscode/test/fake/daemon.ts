// A fake tetherd: a real gRPC server on a Unix socket, serving the committed schema, whose
// answers each test scripts.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadDefinition } from '../../src/api/schema';
import type { Forward, ForwardSpec, HandshakeResponse } from '../../src/api/types';
import { SCHEMA } from '../harness/bins';

/** What the fake answers; tests change it between calls. */
export interface Script {
  handshake: HandshakeResponse;
  /** The forward CreateForward returns for a spec, or a gRPC error. */
  create(spec: ForwardSpec): Forward | { code: grpc.status; details: string };
  forwards: Forward[];
}

export interface FakeDaemon {
  socket: string;
  dir: string;
  script: Script;
  /** CreateForward requests received. */
  creates: { spec: ForwardSpec; wait_ready: boolean }[];
  /** Sends an event to every WatchEvents stream. */
  emit(event: Record<string, unknown>): void;
  stop(): Promise<void>;
}

export function readyForward(spec: ForwardSpec, local = '127.0.0.1:40001', pod = 'api-1'): Forward {
  return {
    spec: { ...spec },
    status: {
      phase: 'PHASE_READY',
      attempt: 0,
      reason_kind: 'REASON_KIND_UNSPECIFIED',
      reason: '',
      pod,
      local_addresses: [local],
      since_unix: 0,
      protocol: 'websocket-tunnel',
    },
    stats: { connections_total: 0, connections_active: 0, reconnects: 0, bytes_out: 0, bytes_in: 0 },
    created_unix: 0,
  };
}

export async function startFakeDaemon(): Promise<FakeDaemon> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-vscode-fake-'));
  const socket = path.join(dir, 'tetherd.sock');
  const pkg = grpc.loadPackageDefinition(loadDefinition(SCHEMA)) as unknown as {
    tether: { v1: Record<string, { service: grpc.ServiceDefinition }> };
  };
  const v1 = pkg.tether.v1;
  const streams = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  const daemon: FakeDaemon = {
    socket,
    dir,
    creates: [],
    script: {
      handshake: { daemon_version: '0.1.0', api_major: 1, compatible: true, message: '' },
      create: (spec) => readyForward(spec),
      forwards: [],
    },
    emit: (event) => streams.forEach((s) => s.write(event)),
    stop: async () => {
      streams.forEach((s) => s.end());
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const server = new grpc.Server();
  server.addService(v1.DaemonService!.service, {
    Handshake: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, daemon.script.handshake),
  });
  server.addService(v1.ForwardService!.service, {
    CreateForward: (call: grpc.ServerUnaryCall<{ spec: ForwardSpec; wait_ready: boolean }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      daemon.creates.push(call.request);
      const out = daemon.script.create(call.request.spec);
      if ('code' in out) {
        cb({ code: out.code, details: out.details } as grpc.ServiceError, null);
      } else {
        cb(null, { forward: out, existed: false });
      }
    },
    ListForwards: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { forwards: daemon.script.forwards }),
    WatchEvents: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      streams.add(call);
      call.on('cancelled', () => streams.delete(call));
    },
  });
  server.addService(v1.SessionService!.service, {
    ListSessions: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { sessions: [] }),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return daemon;
}
