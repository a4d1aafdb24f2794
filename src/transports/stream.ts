import type { Socket } from 'node:net';
import type { Transport } from './types';

/**
 * How long an ended stream may take to hand its last bytes to a client that does not read them
 * (or to answer with its own end) before it is cut, as ws waits for the answer to a close frame.
 */
const STREAM_END_TIMEOUT_MS = 30_000;

/**
 * A session's client over a plain TCP or TLS byte stream (`tcp://`, `tls://`). Reads arrive as
 * they come, split anywhere (the service frames them); there are no close codes, pings or
 * subprotocols.
 */
export class StreamTransport implements Transport {
  readonly kind = 'tcp';
  readonly protocol = '';
  readonly closeFrames = false;

  /** The code of the error that broke the stream (ECONNRESET...), reported as the close reason. */
  private failure = '';

  /** @param endTimeoutMs how long {@link close} waits for the stream to finish before cutting it */
  constructor(
    private readonly stream: Socket,
    private readonly endTimeoutMs = STREAM_END_TIMEOUT_MS,
  ) {
    stream.on('error', (err: Error & { code?: string }) => {
      this.failure ||= err.code ?? err.message;
      stream.destroy();
    });
  }

  socket(): Socket | null {
    return this.stream.destroyed ? null : this.stream;
  }

  onMessage(listener: (data: Buffer, binary: boolean) => void): void {
    this.stream.on('data', (data: Buffer) => listener(data, true));
  }

  send(data: Buffer, _binary: boolean, done: () => void): void {
    if (!this.stream.writable) {
      done();
      return;
    }
    this.stream.write(data, () => done());
  }

  /** A byte stream has no framing of its own: the bytes go out as they are. */
  sendShared(data: Buffer, binary: boolean, done: () => void): void {
    this.send(data, binary, done);
  }

  close(): void {
    if (this.stream.writableEnded) return;
    this.stream.end();
    const cut = setTimeout(() => this.stream.destroy(), this.endTimeoutMs);
    cut.unref();
    this.stream.once('close', () => clearTimeout(cut));
  }

  terminate(): void {
    this.stream.destroy();
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  onClose(listener: (code: number, reason: string) => void): void {
    this.stream.once('close', (hadError: boolean) => listener(hadError ? 1006 : 1000, hadError ? this.failure : ''));
  }
}
