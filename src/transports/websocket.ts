import { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import type { Transport } from './types';

/** With `binaryType` left at 'nodebuffer', ws hands every message over as one Buffer. */
function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** A session's client over WebSocket (`ws://`, `wss://`), one message per frame. */
export class WebSocketTransport implements Transport {
  readonly kind = 'ws';
  readonly closeFrames = true;

  constructor(readonly ws: WebSocket) {}

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
