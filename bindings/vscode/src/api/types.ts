// The tether.v1 messages this extension reads and writes, as @grpc/proto-loader decodes them
// from the descriptor set: field names as in the .proto files (snake_case; proto-loader's
// keepCase applies only to .proto sources), enums by name, 64-bit integers as numbers, defaults
// filled in, and `kind` naming the member set in a oneof. Only the fields used are listed.

/** The forward phases, by their protobuf names. */
export type Phase =
  | 'PHASE_UNSPECIFIED'
  | 'PHASE_PENDING'
  | 'PHASE_CONNECTING'
  | 'PHASE_READY'
  | 'PHASE_RECONNECTING'
  | 'PHASE_PAUSED'
  | 'PHASE_FAILED';

/** Why a forward is reconnecting or failed, by protobuf name (`REASON_KIND_FORBIDDEN`, ...). */
export type ReasonKind = string;

export interface ForwardSpec {
  name: string;
  target: string;
  namespace: string;
  context: string;
  kubeconfig: string;
  ports: string[];
  address: string;
}

export interface ForwardStatus {
  phase: Phase;
  attempt: number;
  reason_kind: ReasonKind;
  reason: string;
  /** The pod in use; set while Ready. */
  pod: string;
  /** One `HOST:PORT` per port mapping, in the order of `spec.ports`. */
  local_addresses: string[];
  since_unix: number;
  protocol: string;
}

export interface ForwardStats {
  connections_total: number;
  connections_active: number;
  reconnects: number;
  bytes_out: number;
  bytes_in: number;
}

export interface Forward {
  spec: ForwardSpec;
  status: ForwardStatus;
  stats: ForwardStats;
  created_unix: number;
}

export interface HandshakeResponse {
  daemon_version: string;
  api_major: number;
  compatible: boolean;
  message: string;
}

export interface CreateForwardResponse {
  forward: Forward;
  existed: boolean;
}

/** One event of WatchEvents; `kind` names the member that is set. */
export interface Event {
  time_unix_ms: number;
  forward: string;
  kind: 'status' | 'opened' | 'closed' | 'deleted' | 'tunnel_up' | 'tunnel_down' | 'session';
  status?: ForwardStatus;
  tunnel_up?: { pod: string; protocol: string; setup_ms: number };
  tunnel_down?: { pod: string; reason: string; reason_kind: ReasonKind };
  session?: { id: string; phase: string; reason: string; pod: string };
  opened?: { id: number; peer: string; pod: string };
  closed?: { id: number; bytes_out: number; bytes_in: number; error: string };
  deleted?: Record<string, never>;
}

export interface TerminalSize {
  width: number;
  height: number;
}

export interface ProcessSpec {
  target: string;
  namespace: string;
  context: string;
  kubeconfig: string;
  container: string;
  command: string[];
  stdin: boolean;
  tty: boolean;
  size?: TerminalSize | null;
}

export interface ExitStatus {
  kind?: 'code' | 'error';
  code?: number;
  error?: string;
  reason: string;
}

export type SessionPhase =
  | 'SESSION_PHASE_UNSPECIFIED'
  | 'SESSION_PHASE_STARTING'
  | 'SESSION_PHASE_RUNNING'
  | 'SESSION_PHASE_RECONNECTING'
  | 'SESSION_PHASE_EXITED'
  | 'SESSION_PHASE_LOST'
  | 'SESSION_PHASE_KILLED';

export interface Session {
  id: string;
  kind: string;
  spec: ProcessSpec;
  phase: SessionPhase;
  pod: string;
  container: string;
  reason: string;
  exit?: ExitStatus | null;
  created_unix: number;
  attached: number;
  output_bytes: number;
  restarts: number;
}

/** A request on the AttachSession stream: exactly one member is set. */
export type AttachRequest =
  | { open: { session: string; no_replay: boolean } }
  | { stdin: Buffer }
  | { resize: TerminalSize }
  | { detach: boolean };

/** A response on the AttachSession stream; `kind` names the member that is set. */
export interface AttachResponse {
  kind: 'session' | 'output' | 'lagged' | 'changed' | 'replay_done';
  session?: Session;
  output?: { data: Buffer; stderr: boolean };
  lagged?: number;
  changed?: Session;
  replay_done?: boolean;
}
