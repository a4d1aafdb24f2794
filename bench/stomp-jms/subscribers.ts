import net from 'node:net';
import { LatencyHistogram } from './histogram';
import { isObject, nowUs, type SubscriberCommand, type SubscriberReply } from './protocol';
import { StompScanner, type StompEvents } from './stomp';
import { CLIENT_LIMITS, FrameReader, OPCODE, checkHandshake, clientFrame, handshakeRequest, newKey, type FrameSink } from './websocket';

/**
 * A subscriber process of `bench:stomp-jms`: opens STOMP 1.2 clients over WebSocket (the same
 * client for every path), subscribes each to one destination and records, per MESSAGE, the
 * latency from the publisher's stamp (see `stampNow`) to the socket read that completed it.
 *
 * The client is built to cost little per delivery, so that the figures are the server's and not
 * the subscribers' (they share the machine): a minimal RFC 6455 client on raw `net` sockets
 * (websocket.ts) whose reads all land in one reused buffer (`onread`), so a delivery allocates
 * nearly nothing; frames are read in place; of STOMP only the command and the stamp are read
 * (stomp.ts); reads are taken in rounds, so a write toward a subscriber wakes no process. The
 * orchestrator runs several such processes so that reading 2,000 sockets is not serialized on
 * one core. README.md beside this file has the measurements behind each choice.
 */

const SUBPROTOCOL = 'v12.stomp';
/** One buffer for every socket read of the process: each read is handled before the next. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

const clients: Subscriber[] = [];
/** MESSAGE frames per subscriber since the last reset. */
let perClient = new Uint32Array(0);
let delivered = 0;
let errors = 0;
let dropped = 0;
let closing = false;
const latency = new LatencyHistogram();
/** The time of the socket read being handled. */
let readAt = 0;

function reply(r: SubscriberReply): void {
  process.send?.(r);
}

type Open = Extract<SubscriberCommand, { type: 'open' }>;

class Subscriber implements FrameSink, StompEvents {
  private readonly key = newKey();
  private readonly reader = new FrameReader(this);
  private readonly scanner = new StompScanner(this);
  private readonly socket: net.Socket;
  /** The server's handshake response so far; `null` once the WebSocket is open. */
  private handshake: Buffer[] | null = [];
  private handshakeBytes = 0;
  private subscribed = false;
  private settle: { resolve: () => void; reject: (err: Error) => void } | null;

  constructor(
    private readonly slot: number,
    private readonly n: number,
    private readonly cmd: Open,
    resolve: () => void,
    reject: (err: Error) => void,
  ) {
    this.settle = { resolve, reject };
    const url = new URL(cmd.url);
    this.socket = net.connect({
      host: url.hostname,
      port: Number(url.port || 80),
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: (bytes: number, buf: Uint8Array) => this.onRead(bytes, buf as Buffer) },
    });
    this.socket.on('connect', () => this.socket.write(handshakeRequest(url.host, url.pathname, this.key, SUBPROTOCOL)));
    this.socket.on('error', (err) => this.fail(err.message));
    this.socket.on('close', () => {
      if (this.settle) this.fail('the server closed the connection before the RECEIPT');
      else if (this.subscribed && !closing) dropped++;
    });
  }

  private onRead(bytes: number, buf: Buffer): boolean {
    readAt = nowUs();
    if (this.handshake === null) {
      this.reader.read(buf, 0, bytes);
      return true;
    }
    this.handshake.push(Buffer.from(buf.subarray(0, bytes)));
    this.handshakeBytes += bytes;
    const head = Buffer.concat(this.handshake);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.handshakeBytes > CLIENT_LIMITS.maxHandshakeBytes) this.fail(`a handshake response longer than ${CLIENT_LIMITS.maxHandshakeBytes} bytes`);
      return true;
    }
    this.handshake = null;
    const wrong = checkHandshake(head.toString('latin1', 0, end), this.key, SUBPROTOCOL);
    if (wrong !== null) {
      this.fail(wrong);
      return true;
    }
    const { login, passcode, host, destination, distinctIds } = this.cmd;
    const credentials = login === undefined ? '' : `login:${login}\npasscode:${passcode ?? ''}\n`;
    this.sendText(`CONNECT\naccept-version:1.2\nhost:${host ?? '/'}\nheart-beat:0,0\n${credentials}\n\0`);
    this.sendText(`SUBSCRIBE\nid:sub-${distinctIds ? this.n : 0}\ndestination:${destination}\nack:auto\nreceipt:r${this.n}\n\n\0`);
    if (end + 4 < head.length) this.reader.read(head, end + 4, head.length);
    return true;
  }

  private sendText(text: string): void {
    this.socket.write(clientFrame(OPCODE.text, Buffer.from(text, 'utf8')));
  }

  // --- FrameSink ---

  data(buf: Buffer, start: number, end: number): void {
    this.scanner.scan(buf, start, end);
  }

  control(opcode: number, payload: Buffer): void {
    if (opcode === OPCODE.ping) this.socket.write(clientFrame(OPCODE.pong, payload));
    else if (opcode === OPCODE.close) {
      // Section 5.5.1: answer with a close frame (echoing the status code), then the server closes.
      this.socket.end(clientFrame(OPCODE.close, payload.subarray(0, 2)));
    }
  }

  violation(reason: string): void {
    this.fail(`WebSocket framing: ${reason}`);
  }

  // --- StompEvents ---

  message(stampUs: number): void {
    delivered++;
    perClient[this.slot] = (perClient[this.slot] as number) + 1;
    if (stampUs >= 0) latency.record(readAt - stampUs);
  }

  other(frame: string): void {
    if (frame.startsWith('ERROR')) {
      if (this.settle) this.fail(frame);
      else errors++;
    } else if (frame.startsWith('RECEIPT') && this.settle) {
      this.subscribed = true;
      const { resolve } = this.settle;
      this.settle = null;
      resolve();
    }
  }

  /** Ends the connection for `reason`: opening fails before the RECEIPT, an error counts after it. */
  private fail(reason: string): void {
    if (this.settle) {
      const { reject } = this.settle;
      this.settle = null;
      reject(new Error(`subscriber ${this.n}: ${reason}`));
    } else if (!closing) {
      errors++;
    }
    this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * Takes socket reads in rounds: the process blocks for `ms` between turns of its event loop, then
 * reads every socket that became readable meanwhile. A write toward a subscriber then wakes no
 * process (on one machine, the writer would pay for waking the reader), and every latency figure
 * may be up to `ms` higher than the arrival of its bytes.
 */
function readInRounds(ms: number): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const round = (): void => {
    Atomics.wait(pause, 0, 0, ms);
    if (!closing) setImmediate(round);
  };
  setImmediate(round);
}

function openOne(cmd: Open, slot: number): Promise<void> {
  return new Promise((resolve, reject) => {
    clients.push(new Subscriber(slot, cmd.first + slot, cmd, resolve, reject));
  });
}

process.on('message', (m: unknown) => {
  if (!isObject(m) || typeof m.type !== 'string') return;
  const cmd = m as SubscriberCommand;
  void (async () => {
    try {
      switch (cmd.type) {
        case 'open': {
          const t0 = Date.now();
          perClient = new Uint32Array(cmd.count);
          if (cmd.readRoundMs > 0) readInRounds(cmd.readRoundMs);
          for (let i = 0; i < cmd.count; i += 100) await Promise.all(Array.from({ length: Math.min(100, cmd.count - i) }, (_, j) => openOne(cmd, i + j)));
          reply({ type: 'opened', count: clients.length, ms: Date.now() - t0 });
          break;
        }
        case 'reset':
          delivered = 0;
          errors = 0;
          dropped = 0;
          perClient.fill(0);
          latency.reset();
          reply({ type: 'reset' });
          break;
        case 'progress':
          reply({ type: 'progress', delivered, dropped });
          break;
        case 'report': {
          let silent = 0;
          for (let i = 0; i < clients.length; i++) if (perClient[i] === 0) silent++;
          reply({ type: 'report', delivered, latency: latency.data(), errors, dropped, silent });
          break;
        }
        case 'close':
          closing = true;
          for (const c of clients) c.destroy();
          clients.length = 0;
          reply({ type: 'closed' });
          break;
      }
    } catch (err) {
      reply({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
