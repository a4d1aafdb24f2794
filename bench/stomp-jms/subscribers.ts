import WebSocket, { type RawData } from 'ws';
import { isObject, type SubscriberCommand, type SubscriberReply } from './protocol';

/**
 * The subscriber process of `bench:stomp-jms`: opens raw STOMP 1.2 clients over WebSocket
 * (the same minimal client for every target), subscribes each to one destination and records,
 * per MESSAGE, the latency from the publisher's timestamp (the body starts with
 * `process.hrtime.bigint()` of the publisher: CLOCK_MONOTONIC, shared by processes on Linux).
 */

const clients: WebSocket[] = [];
/** MESSAGE frames per subscriber since the last reset. */
let perClient: number[] = [];
let delivered = 0;
let errors = 0;
let dropped = 0;
let closing = false;
let latenciesUs: number[] = [];
const MAX_SAMPLES = 2_000_000;

function reply(r: SubscriberReply): void {
  process.send?.(r);
}

/**
 * Counts the MESSAGE frames completed by `data` and returns the bytes of an incomplete last frame
 * (RabbitMQ Web-STOMP sends the STOMP byte stream in WebSocket messages that need not end on a
 * frame boundary).
 */
function onData(i: number, data: RawData, carry: Buffer | null): Buffer | null {
  const chunk = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
  let at = 0;
  while (at < buf.length) {
    // Heart-beats and the EOL RabbitMQ writes after each NUL, also at the start of a message.
    while (at < buf.length && (buf[at] === 0x0a || buf[at] === 0x0d)) at++;
    if (at === buf.length) break;
    const end = buf.indexOf(0, at);
    if (end < 0) return buf.subarray(at);
    const stop = end;
    if (buf.toString('latin1', at, Math.min(at + 7, stop)) === 'MESSAGE') {
      const sep = buf.indexOf('\n\n', at);
      if (sep > 0 && sep < stop) {
        const bodyStart = sep + 2;
        const colon = buf.indexOf(':', bodyStart);
        const sent = BigInt(buf.toString('latin1', bodyStart, colon > 0 && colon < stop ? colon : stop));
        delivered++;
        perClient[i] = (perClient[i] ?? 0) + 1;
        if (latenciesUs.length < MAX_SAMPLES) latenciesUs.push(Number(process.hrtime.bigint() - sent) / 1000);
      }
    } else if (buf.toString('latin1', at, Math.min(at + 5, stop)) === 'ERROR') {
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

process.on('message', (m: unknown) => {
  if (!isObject(m) || typeof m.type !== 'string') return;
  const cmd = m as SubscriberCommand;
  void (async () => {
    try {
      switch (cmd.type) {
        case 'open': {
          const t0 = Date.now();
          for (let i = 0; i < cmd.count; i += 100) await Promise.all(Array.from({ length: Math.min(100, cmd.count - i) }, (_, j) => openOne(cmd, i + j)));
          reply({ type: 'opened', count: clients.length, ms: Date.now() - t0 });
          break;
        }
        case 'reset':
          delivered = 0;
          errors = 0;
          dropped = 0;
          perClient = [];
          latenciesUs = [];
          break;
        case 'report': {
          let silent = 0;
          for (let i = 0; i < clients.length; i++) if ((perClient[i] ?? 0) === 0) silent++;
          reply({ type: 'report', delivered, latenciesUs, errors, dropped, silent });
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
