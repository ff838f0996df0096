// Just enough of two debugger protocols to speak them through a forward: the node inspector
// (HTTP /json endpoints and a CDP WebSocket) and the Debug Adapter Protocol (debugpy).

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';

/** GET http://host:port/path as JSON, with a deadline. */
export function getJson<T>(host: string, port: number, path: string, timeoutMs = 2_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as T);
        } catch (err) {
          reject(new Error(`GET ${path}: not JSON (${res.statusCode}): ${body.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** A CDP session over the inspector's WebSocket: what js-debug holds while attached. */
export interface Inspector {
  evaluate(expression: string): Promise<unknown>;
  /** Resolves when the connection closes (the pod went away). */
  closed: Promise<void>;
  close(): void;
}

export async function openInspector(host: string, port: number, wsPath: string, timeoutMs = 5_000): Promise<Inspector> {
  const socket = net.connect({ host, port });
  const key = crypto.randomBytes(16).toString('base64');
  socket.write(
    `GET ${wsPath} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let buf = Buffer.alloc(0);
  const pending = new Map<number, (v: unknown) => void>();
  let upgraded = false;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no WebSocket upgrade from the inspector')), timeoutMs);
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          return;
        }
        const head = buf.subarray(0, end).toString();
        if (!head.startsWith('HTTP/1.1 101')) {
          reject(new Error(`inspector refused the upgrade: ${head.split('\r\n')[0]}`));
          return;
        }
        upgraded = true;
        buf = buf.subarray(end + 4);
        clearTimeout(timer);
        resolve();
      }
      for (let frame = takeFrame(); frame; frame = takeFrame()) {
        const msg = JSON.parse(frame) as { id?: number; result?: { result?: { value?: unknown } } };
        if (msg.id !== undefined) {
          pending.get(msg.id)?.(msg.result?.result?.value);
          pending.delete(msg.id);
        }
      }
    });
  });
  function takeFrame(): string | undefined {
    if (buf.length < 2) {
      return undefined;
    }
    let len = buf[1]! & 0x7f;
    let at = 2;
    if (len === 126) {
      if (buf.length < 4) return undefined;
      len = buf.readUInt16BE(2);
      at = 4;
    } else if (len === 127) {
      if (buf.length < 10) return undefined;
      len = Number(buf.readBigUInt64BE(2));
      at = 10;
    }
    if (buf.length < at + len) {
      return undefined;
    }
    const text = buf.subarray(at, at + len).toString('utf8');
    buf = buf.subarray(at + len);
    return text;
  }
  let nextId = 1;
  return {
    evaluate(expression) {
      const id = nextId++;
      const payload = Buffer.from(JSON.stringify({ id, method: 'Runtime.evaluate', params: { expression, returnByValue: true } }));
      const mask = crypto.randomBytes(4);
      const header =
        payload.length < 126
          ? Buffer.from([0x81, 0x80 | payload.length])
          : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
      const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
      socket.write(Buffer.concat([header, mask, masked]));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no CDP answer to ${expression}`)), timeoutMs);
        pending.set(id, (v) => {
          clearTimeout(timer);
          resolve(v);
        });
      });
    },
    closed,
    close: () => socket.destroy(),
  };
}

/** Sends a DAP `initialize` request and returns its response. */
export function dapInitialize(host: string, port: number, timeoutMs = 10_000): Promise<{ success: boolean; command: string; body?: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no DAP initialize response within ${timeoutMs} ms`));
    }, timeoutMs);
    const body = JSON.stringify({
      seq: 1,
      type: 'request',
      command: 'initialize',
      arguments: { clientID: 'tether-test', adapterID: 'debugpy', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' },
    });
    socket.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        const m = end >= 0 ? /Content-Length: (\d+)/i.exec(buf.subarray(0, end).toString()) : null;
        if (!m || buf.length < end + 4 + Number(m[1])) {
          return;
        }
        const msg = JSON.parse(buf.subarray(end + 4, end + 4 + Number(m[1])).toString()) as {
          type: string;
          request_seq?: number;
          success: boolean;
          command: string;
        };
        buf = buf.subarray(end + 4 + Number(m[1]));
        if (msg.type === 'response' && msg.request_seq === 1) {
          clearTimeout(timer);
          socket.destroy();
          resolve(msg);
          return;
        }
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
