/**
 * The WebSocket client side of `bench:stomp-jms`, reduced to what a subscriber needs (RFC 6455,
 * https://www.rfc-editor.org/rfc/rfc6455): the opening handshake (section 4.1), masked frames from
 * the client (5.3) and a streaming reader of the server's frames (5.2) that hands data payloads
 * on in place, without copying them, however the bytes are split over socket reads.
 *
 * It exists so the measuring side costs little per delivery: a full client library (ws) spends
 * more CPU per message than the server under test spends writing it, and the benchmark would
 * then measure its own subscribers.
 */
import { createHash, randomBytes } from 'node:crypto';

/** The GUID of RFC 6455 section 1.3 that the server appends to `Sec-WebSocket-Key`. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Limits of the reader: an opening response and a data frame may be no larger. */
export const CLIENT_LIMITS = {
  /** Bytes of the server's HTTP response to the opening handshake. @default 16384 */
  maxHandshakeBytes: 16 * 1024,
  /** Payload bytes of one frame. @default 67108864 */
  maxFrameBytes: 64 * 1024 * 1024,
} as const;

/** Opcodes of RFC 6455 section 5.2. */
export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** A new random `Sec-WebSocket-Key`: 16 random bytes in base64 (section 4.1). */
export function newKey(): string {
  return randomBytes(16).toString('base64');
}

/** The `Sec-WebSocket-Accept` a server must answer `key` with (section 4.2.2). */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** The client's opening handshake (section 4.1) for `path` on `host` (with its port), asking for `subprotocol`. */
export function handshakeRequest(host: string, path: string, key: string, subprotocol: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${subprotocol}\r\n\r\n`
  );
}

/**
 * Checks the server's response to the opening handshake (section 4.2.2 as the client sees it,
 * 4.1 steps 1-6 of "the client MUST"): status 101, `Upgrade: websocket`, `Connection: Upgrade`,
 * the accept value for `key`, the subprotocol asked for, and no extension (none was offered).
 * Returns the reason it fails, or `null`.
 */
export function checkHandshake(head: string, key: string, subprotocol: string): string | null {
  const lines = head.split('\r\n');
  const status = lines[0] ?? '';
  if (!/^HTTP\/1\.1 101(?: |$)/.test(status)) return `the server answered "${status}", not 101`;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name) as string}, ${value}` : value);
  }
  if (headers.get('upgrade')?.toLowerCase() !== 'websocket') return 'no "Upgrade: websocket" in the response';
  if (!(headers.get('connection') ?? '').toLowerCase().split(/\s*,\s*/).includes('upgrade')) return 'no "Connection: Upgrade" in the response';
  if (headers.get('sec-websocket-accept') !== acceptFor(key)) return 'wrong Sec-WebSocket-Accept';
  if (headers.get('sec-websocket-protocol') !== subprotocol) return `the server did not agree to the ${subprotocol} subprotocol`;
  if (headers.has('sec-websocket-extensions')) return 'the server chose an extension that was not offered';
  return null;
}

/** One frame from the client: FIN set, masked with a random key (section 5.3). */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n < 0x10000 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + lengthBytes + 4 + n);
  frame[0] = 0x80 | opcode;
  if (lengthBytes === 0) frame[1] = 0x80 | n;
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(n / 0x100000000), 2);
    frame.writeUInt32BE(n >>> 0, 6);
  }
  const maskAt = 2 + lengthBytes;
  randomBytes(4).copy(frame, maskAt);
  for (let i = 0; i < n; i++) frame[maskAt + 4 + i] = (payload[i] as number) ^ (frame[maskAt + (i & 3)] as number);
  return frame;
}

/** Where a {@link FrameReader} sends what it reads. */
export interface FrameSink {
  /** Payload bytes `[start, end)` of `buf` of a text, binary or continuation frame; `buf` is only valid during the call. */
  data(buf: Buffer, start: number, end: number): void;
  /** A whole control frame (close, ping or pong) and its payload. */
  control(opcode: number, payload: Buffer): void;
  /** The server broke the framing rules; nothing more is read after this. */
  violation(reason: string): void;
}

/**
 * Reads the frames a server sends (section 5.2): any number per call, a frame split anywhere over
 * calls. Data payloads go to the sink as views of the caller's buffer, part by part as they
 * arrive; only a frame header split over reads (at most 10 bytes) and a control frame's payload
 * (at most 125 bytes) are copied.
 */
export class FrameReader {
  /** Header bytes gathered while a header is split over reads. */
  private readonly head = Buffer.alloc(14);
  private headHave = 0;
  /** Payload bytes of the current frame still to come. */
  private remaining = 0;
  /** The current frame is a control frame: its payload is gathered here. */
  private controlOpcode = -1;
  private controlPayload: Buffer[] = [];
  /** A fragmented data message is open: the next data frame must be a continuation. */
  private inMessage = false;
  private broken = false;

  constructor(private readonly sink: FrameSink) {}

  /** Reads bytes `[start, end)` of `buf`. */
  read(buf: Buffer, start: number, end: number): void {
    let at = start;
    while (at < end && !this.broken) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, end - at);
        if (this.controlOpcode >= 0) this.controlPayload.push(Buffer.from(buf.subarray(at, at + take)));
        else this.sink.data(buf, at, at + take);
        at += take;
        this.remaining -= take;
        if (this.remaining === 0 && this.controlOpcode >= 0) this.endControl();
        continue;
      }
      // A header: in place when it is whole in this read, else gathered.
      let h: Buffer = buf;
      let hAt = at;
      if (this.headHave > 0 || end - at < 2 || end - at < headerLength(buf[at + 1] as number)) {
        const need = this.headHave < 2 ? 2 : headerLength(this.head[1] as number);
        const take = Math.min(need - this.headHave, end - at);
        buf.copy(this.head, this.headHave, at, at + take);
        this.headHave += take;
        at += take;
        if (this.headHave < 2 || this.headHave < headerLength(this.head[1] as number)) continue;
        h = this.head;
        hAt = 0;
        this.headHave = 0;
      } else {
        at += headerLength(buf[at + 1] as number);
      }
      this.startFrame(h, hAt);
    }
  }

  private startFrame(h: Buffer, at: number): void {
    const b0 = h[at] as number;
    const b1 = h[at + 1] as number;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) return this.fail('a reserved bit is set and no extension was agreed');
    if ((b1 & 0x80) !== 0) return this.fail('a frame from the server is masked');
    let length = b1 & 0x7f;
    if (length === 126) length = h.readUInt16BE(at + 2);
    else if (length === 127) {
      const high = h.readUInt32BE(at + 2);
      if (high > 0x1fffff) return this.fail('a 64-bit payload length past 2^53');
      length = high * 0x100000000 + h.readUInt32BE(at + 6);
    }
    if (opcode >= 0x8) {
      if (opcode !== OPCODE.close && opcode !== OPCODE.ping && opcode !== OPCODE.pong) return this.fail(`unknown opcode ${opcode}`);
      if (!fin || length > 125) return this.fail('a control frame that is fragmented or longer than 125 bytes');
      this.controlOpcode = opcode;
      this.remaining = length;
      if (length === 0) this.endControl();
      return;
    }
    if (opcode !== OPCODE.continuation && opcode !== OPCODE.text && opcode !== OPCODE.binary) return this.fail(`unknown opcode ${opcode}`);
    if (opcode === OPCODE.continuation ? !this.inMessage : this.inMessage) {
      return this.fail(opcode === OPCODE.continuation ? 'a continuation frame outside a fragmented message' : 'a new message inside a fragmented one');
    }
    if (length > CLIENT_LIMITS.maxFrameBytes) return this.fail(`a frame of ${length} bytes (limit ${CLIENT_LIMITS.maxFrameBytes})`);
    this.inMessage = !fin;
    this.remaining = length;
  }

  private endControl(): void {
    const payload = this.controlPayload.length === 1 ? (this.controlPayload[0] as Buffer) : Buffer.concat(this.controlPayload);
    const opcode = this.controlOpcode;
    this.controlOpcode = -1;
    this.controlPayload = [];
    this.sink.control(opcode, payload);
  }

  private fail(reason: string): void {
    this.broken = true;
    this.sink.violation(reason);
  }
}

/** Bytes of a server frame's header, from its second byte: 2, plus the extended length, plus a mask key. */
function headerLength(b1: number): number {
  const len = b1 & 0x7f;
  return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
}
