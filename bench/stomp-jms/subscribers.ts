import WebSocket, { type RawData } from 'ws';
import { isObject, type SubscriberCommand, type SubscriberReply } from './protocol';

/**
 * The subscriber process of `bench:stomp-jms`: opens raw STOMP 1.2 clients over WebSocket
 * (the same minimal client for every target), subscribes each to one destination and records,
 * per MESSAGE, the latency from the publisher's timestamp (see `stampNow`).
 */

const clients: WebSocket[] = [];
/** MESSAGE frames per subscriber since the last reset. */
let perClient = new Uint32Array(0);
let delivered = 0;
let errors = 0;
let dropped = 0;
let closing = false;
/** Latency samples in microseconds, the first `sampled` of them valid. */
let samples = new Float64Array(1 << 16);
let sampled = 0;
const MAX_SAMPLES = 1 << 23;

function reply(r: SubscriberReply): void {
  process.send?.(r);
}

function record(us: number): void {
  if (sampled === samples.length) {
    if (sampled === MAX_SAMPLES) return;
    const grown = new Float64Array(samples.length * 2);
    grown.set(samples);
    samples = grown;
  }
  samples[sampled++] = us;
}

const NUL = 0x00;
const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const M = 0x4d;
const E = 0x45;

/** The publisher's microsecond stamp at `at` (digits up to `:`), or -1. */
function stampAt(buf: Buffer, at: number, stop: number): number {
  let n = 0;
  let i = at;
  for (; i < stop; i++) {
    const c = buf[i] as number;
    if (c === COLON) break;
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return i > at ? n : -1;
}

/**
 * Counts the MESSAGE frames completed by `data` and returns the bytes of an incomplete last frame
 * (RabbitMQ Web-STOMP sends the STOMP byte stream in WebSocket messages that need not end on a
 * frame boundary; Gangway sends one frame per message).
 */
function onData(i: number, data: RawData, carry: Buffer | null): Buffer | null {
  const chunk = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
  const nowUs = Number(process.hrtime.bigint() / 1000n);
  let at = 0;
  while (at < buf.length) {
    // Heart-beats and the EOL RabbitMQ writes after each NUL, also at the start of a message.
    while (at < buf.length && (buf[at] === LF || buf[at] === CR)) at++;
    if (at === buf.length) break;
    const stop = buf.indexOf(NUL, at);
    if (stop < 0) return buf.subarray(at);
    if (buf[at] === M) {
      const sep = buf.indexOf('\n\n', at);
      if (sep > 0 && sep < stop) {
        const sent = stampAt(buf, sep + 2, stop);
        delivered++;
        perClient[i] = (perClient[i] as number) + 1;
        if (sent >= 0) record(nowUs - sent);
      }
    } else if (buf[at] === E) {
      errors++;
    }
    at = stop + 1;
  }
  return null;
}

function openOne(cmd: Extract<SubscriberCommand, { type: 'open' }>, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(cmd.url, ['v12.stomp'], { perMessageDeflate: false });
    let subscribed = false;
    let carry: Buffer | null = null;
    ws.on('error', (err) => (subscribed ? errors++ : reject(err)));
    // A server out of sockets (RabbitMQ at its file descriptor limit) closes connections: a
    // subscriber that is gone must show, not just lower the delivery count.
    ws.on('close', (code: number, reason: Buffer) => {
      if (!subscribed) reject(new Error(`subscriber ${i}: the server closed the WebSocket before the RECEIPT (${code} ${reason.toString()})`));
      else if (!closing) dropped++;
    });
    ws.on('open', () => {
      const login = cmd.login === undefined ? '' : `login:${cmd.login}\npasscode:${cmd.passcode ?? ''}\n`;
      ws.send(`CONNECT\naccept-version:1.2\nhost:${cmd.host ?? '/'}\nheart-beat:0,0\n${login}\n\0`);
      ws.send(`SUBSCRIBE\nid:s${i}\ndestination:${cmd.destination}\nack:auto\nreceipt:r${i}\n\n\0`);
    });
    ws.on('message', (data: RawData) => {
      if (!subscribed) {
        const text = Buffer.isBuffer(data) ? data.toString('latin1') : '';
        if (text.startsWith('ERROR')) {
          reject(new Error(text.replace(/\0/g, '')));
          return;
        }
        if (text.includes(`receipt-id:r${i}`)) {
          subscribed = true;
          resolve();
        }
        return;
      }
      carry = onData(i, data, carry);
    });
    clients.push(ws);
  });
}

function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
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
          for (let i = 0; i < cmd.count; i += 100) await Promise.all(Array.from({ length: Math.min(100, cmd.count - i) }, (_, j) => openOne(cmd, i + j)));
          reply({ type: 'opened', count: clients.length, ms: Date.now() - t0 });
          break;
        }
        case 'reset':
          delivered = 0;
          errors = 0;
          dropped = 0;
          perClient.fill(0);
          sampled = 0;
          reply({ type: 'reset' });
          break;
        case 'progress':
          reply({ type: 'progress', delivered, dropped });
          break;
        case 'report': {
          let silent = 0;
          for (let i = 0; i < clients.length; i++) if (perClient[i] === 0) silent++;
          const sorted = samples.slice(0, sampled).sort();
          reply({ type: 'report', delivered, p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99), maxUs: percentile(sorted, 100), errors, dropped, silent });
          break;
        }
        case 'close':
          closing = true;
          for (const ws of clients) ws.terminate();
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
