// The one place that turns a failed call into what the user reads.

import { status as Status, type ServiceError } from '@grpc/grpc-js';

/** A failed call to tetherd, or a refusal before one was made. */
export class TetherError extends Error {
  /** The gRPC status name (`NOT_FOUND`, ...), or `CLIENT` for errors of this side. */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'TetherError';
    this.code = code;
  }
}

/** What a gRPC status means to the user. The daemon's own text names the field or forward. */
export function fromServiceError(err: ServiceError, socket: string, what: string): TetherError {
  const code = Status[err.code] ?? String(err.code);
  const detail = err.details || err.message;
  switch (err.code) {
    case Status.UNAVAILABLE:
      return new TetherError(
        code,
        `failed to ${what}: tetherd at ${socket} does not answer (${detail}); start it with \`tether daemon start\``,
      );
    case Status.DEADLINE_EXCEEDED:
      return new TetherError(code, `failed to ${what}: tetherd did not answer in time`);
    default:
      return new TetherError(code, `failed to ${what}: ${detail}`);
  }
}

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
