// The Pseudoterminal bridge: a VS Code terminal on one side, an AttachSession stream on the other.
// Replay, then live output; keys as stdin; resizes; a notice when output was skipped. Closing
// the terminal detaches: the session keeps running in the daemon.

import { messageOf } from '../api/errors';
import { sessionPhase } from '../api/names';
import type { AttachRequest, AttachResponse, Session, TerminalSize } from '../api/types';

/** The AttachSession stream, as grpc-js gives it. */
export interface AttachStreamLike {
  write(request: AttachRequest): unknown;
  end(): void;
  on(event: 'data', fn: (response: AttachResponse) => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
}

/** The terminal side: what a Pseudoterminal's emitters do. */
export interface TerminalSink {
  write(text: string): void;
  close(code?: number): void;
}

/** A terminal's size in VS Code's terms. */
export interface Dimensions {
  columns: number;
  rows: number;
}

const notice = (text: string): string => `\r\n\x1b[2m[tether] ${text}\x1b[0m\r\n`;

export class AttachBridge {
  private stream: AttachStreamLike | undefined;
  private session: Session | undefined;
  private readonly decoder = new TextDecoder('utf-8');
  /** The last output character was '\r' (non-TTY output: '\n' becomes '\r\n'). */
  private lastCR = false;
  /** The stream is over; the next key closes the terminal. */
  private over = false;
  private closed = false;
  private dims: Dimensions | undefined;

  constructor(
    private readonly sessionId: string,
    private readonly openStream: () => AttachStreamLike,
    private readonly sink: TerminalSink,
  ) {}

  /** The terminal opened: join the session. */
  open(dims?: Dimensions): void {
    this.dims = dims;
    let stream: AttachStreamLike;
    try {
      stream = this.openStream();
    } catch (err) {
      this.end(`could not attach to session ${this.sessionId}: ${messageOf(err)}`);
      return;
    }
    this.stream = stream;
    stream.on('data', (r) => this.onResponse(r));
    stream.on('error', (err) => this.end(`connection to tetherd lost: ${grpcDetail(err)}`));
    stream.on('end', () => this.end('the daemon ended the attach'));
    stream.write({ open: { session: this.sessionId, no_replay: false } });
  }

  /** Keys typed in the terminal. */
  handleInput(data: string): void {
    if (this.over) {
      this.sink.close();
      return;
    }
    if (!this.stream || !this.session?.spec.stdin) {
      return;
    }
    const tty = this.session.spec.tty;
    const text = tty ? data : data.replace(/\r/g, '\n');
    if (!tty) {
      this.sink.write(data.replace(/\r/g, '\r\n')); // no remote echo without a TTY
    }
    this.stream.write({ stdin: Buffer.from(text, 'utf8') });
  }

  setDimensions(dims: Dimensions): void {
    this.dims = dims;
    this.sendSize();
  }

  /** The terminal was closed: detach, and leave the session running. */
  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.over = true;
    if (this.stream) {
      try {
        this.stream.write({ detach: true });
        this.stream.end();
      } catch {
        // already gone
      }
    }
  }

  private onResponse(r: AttachResponse): void {
    switch (r.kind) {
      case 'session':
        this.session = r.session;
        this.sendSize();
        if (r.session && !r.session.spec.stdin) {
          this.sink.write(notice(`session ${this.sessionId} takes no input; output only`));
        }
        return;
      case 'output':
        if (r.output) {
          this.sink.write(this.text(r.output.data));
        }
        return;
      case 'lagged':
        this.sink.write(notice(`this terminal fell behind: ${r.lagged ?? 0} bytes of output were skipped`));
        return;
      case 'changed':
        if (r.changed) {
          this.onChanged(r.changed);
        }
        return;
      case 'replay_done':
        return;
    }
  }

  private onChanged(s: Session): void {
    this.session = s;
    switch (s.phase) {
      case 'SESSION_PHASE_RECONNECTING':
        this.sink.write(notice(`reconnecting${s.reason ? `: ${s.reason}` : ''}`));
        return;
      case 'SESSION_PHASE_RUNNING':
        this.sink.write(notice(`running again${s.pod ? ` on ${s.pod}` : ''}`));
        return;
      case 'SESSION_PHASE_EXITED':
      case 'SESSION_PHASE_LOST':
      case 'SESSION_PHASE_KILLED':
        this.end(`session ${this.sessionId} ${exitText(s)}`);
        return;
      default:
        return;
    }
  }

  private sendSize(): void {
    if (this.stream && this.dims && this.session?.spec.tty && !this.over) {
      const size: TerminalSize = { width: this.dims.columns, height: this.dims.rows };
      this.stream.write({ resize: size });
    }
  }

  private text(data: Buffer | Uint8Array): string {
    const text = this.decoder.decode(data, { stream: true });
    if (this.session?.spec.tty !== false || text.length === 0) {
      return text;
    }
    let out = '';
    for (const ch of text) {
      out += ch === '\n' && !this.lastCR ? '\r\n' : ch;
      this.lastCR = ch === '\r';
    }
    return out;
  }

  private end(message: string): void {
    if (this.over) {
      return;
    }
    this.over = true;
    this.sink.write(notice(`${message}; press any key to close this terminal`));
  }
}

function exitText(s: Session): string {
  const phase = sessionPhase(s.phase).toLowerCase();
  if (s.exit?.kind === 'code') {
    return `${phase} with code ${s.exit.code ?? 0}`;
  }
  if (s.exit?.kind === 'error') {
    return `${phase}: ${s.exit.error ?? ''}`;
  }
  return s.reason ? `${phase}: ${s.reason}` : phase;
}

function grpcDetail(err: Error): string {
  const details = (err as Error & { details?: string }).details;
  return details || err.message;
}
