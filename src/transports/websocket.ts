import { Duplex } from 'node:stream';
import { WebSocket, type RawData } from 'ws';
import type { Transport } from './types';

/** With `binaryType` left at 'nodebuffer', ws hands every message over as one Buffer. */
function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/**
 * `payload` as one unmasked WebSocket frame from a server, header and payload in one buffer
 * (RFC 6455 section 5.2, https://www.rfc-editor.org/rfc/rfc6455#section-5.2): FIN set, no
 * reserved bit (no extension), opcode 1 (text) or 2 (binary), the length in 7, 16 or 64 bits. The
 * bytes ws writes for `send(payload, { binary })`, so one such frame can go to many clients' sockets.
 */
export function webSocketFrame(payload: Buffer, binary: boolean): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 0x10000 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + n);
  frame[0] = binary ? 0x82 : 0x81;
  if (head === 2) frame[1] = n;
  else if (head === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(n / 0x100000000), 2);
    frame.writeUInt32BE(n >>> 0, 6);
  }
  payload.copy(frame, head);
  return frame;
}

/**
 * The message shared last and, from its second write on, its WebSocket frame. A fan-out hands one
 * message to its clients one after another, so it is framed once and the frame written as it is
 * to every client's socket (encode once, write many); a message written once goes through ws as
 * any other. Messages are known by identity: none changes once handed over.
 */
let lastShared: Buffer | null = null;
let lastBinary = false;
let lastFrame: Buffer | null = null;

function framedAgain(data: Buffer, binary: boolean): Buffer | null {
  if (data === lastShared && binary === lastBinary) return (lastFrame ??= webSocketFrame(data, binary));
  lastShared = data;
  lastBinary = binary;
  lastFrame = null;
  return null;
}

/** A session's client over WebSocket (`ws://`, `wss://`), one message per frame. */
export class WebSocketTransport implements Transport {
  readonly kind = 'ws';
  readonly closeFrames = true;

  /** The socket frames built once may be written to: no extension was agreed (see {@link sendShared}). */
  private readonly frameSocket: Duplex | null;

  constructor(readonly ws: WebSocket) {
    this.frameSocket = ws.extensions === '' ? this.socket() : null;
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  /**
   * The TCP socket under the WebSocket. ws keeps it in `_socket` and has no public accessor; a
   * WebSocket without one (not yet or no longer connected) gives `null`.
   */
  socket(): Duplex | null {
    const socket: unknown = Reflect.get(this.ws, '_socket');
    return socket instanceof Duplex ? socket : null;
  }

  onMessage(listener: (data: Buffer, binary: boolean) => void): void {
    this.ws.on('message', (data: RawData, isBinary: boolean) => listener(asBuffer(data), isBinary));
  }

  send(data: Buffer, binary: boolean, done: () => void): void {
    this.ws.send(data, { binary }, () => done());
  }

  /**
   * A message framed once for all the clients it goes to, written straight to the socket. Only
   * while the WebSocket is open and no extension was agreed: ws then writes every message to the
   * socket as it is sent (it queues only to compress, or to read a Blob, which Gangway never
   * sends), so a frame written beside it keeps its order.
   */
  sendShared(data: Buffer, binary: boolean, done: () => void): void {
    const socket = this.frameSocket;
    if (socket !== null && this.ws.readyState === WebSocket.OPEN) {
      const frame = framedAgain(data, binary);
      if (frame !== null) {
        socket.write(frame, () => done());
        return;
      }
    }
    this.send(data, binary, done);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  ping(): void {
    this.ws.ping();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  onClose(listener: (code: number, reason: string) => void): void {
    this.ws.once('close', (code: number, reason: Buffer) => listener(code, reason.toString()));
  }
}
