import { PROTOCOLS } from '../../validators';
import type { ProtocolName, WireFrame } from '../../validators/types';
import { CORPORA } from '../../test/support/corpus';

/**
 * `npm run bench:validators`: MB/s and frames/s of each validator on steady-state traffic: one
 * long-lived connection per round, the corpus session's handshake once, then its first message
 * (SEND / MESSAGE, basic.publish or basic.deliver with header and body, transfer, message,
 * PRIVMSG) repeated, fed in 16 KiB chunks as a socket delivers them. Best of five rounds.
 *
 * The last column puts the cost in the proxy's terms: the share of one core the validator needs
 * per message at the proxy's small-message rate (GANGWAY_BENCH_PROXY_MSGS, default 78,000 msg/s,
 * a bare `ws` echo on this kind of machine).
 */
const CHUNK = 16 * 1024;
const STREAM_BYTES = 8 * 1024 * 1024;
const ROUNDS = 5;
const proxyMsgs = Number(process.env.GANGWAY_BENCH_PROXY_MSGS ?? 78_000);

const MESSAGE_KINDS: Readonly<Record<ProtocolName, readonly string[]>> = {
  stomp: ['SEND', 'MESSAGE'],
  amqp091: ['basic.publish', 'basic.deliver'],
  amqp10: ['transfer'],
  xmpp: ['message'],
  irc: ['PRIVMSG'],
};
/** Frames that belong to the message before them (AMQP 0-9-1 content). */
const CONTENT_KINDS = new Set(['header', 'body']);

interface Traffic {
  readonly stream: Buffer;
  readonly messages: number;
  readonly messageBytes: number;
}

function steadyState(name: ProtocolName, direction: 'toServer' | 'toClient'): Traffic | null {
  const module = PROTOCOLS.get(name);
  if (!module) return null;
  for (const session of CORPORA[name][direction]) {
    const frames: WireFrame[] = module.createPair()[direction].push(session).map((f) => ({ kind: f.kind, raw: Buffer.from(f.raw) }));
    const first = frames.findIndex((f) => MESSAGE_KINDS[name].includes(f.kind));
    if (first < 0) continue;
    let end = first + 1;
    while (end < frames.length && CONTENT_KINDS.has((frames[end] as WireFrame).kind)) end++;
    const prefix = Buffer.concat(frames.slice(0, first).map((f) => f.raw));
    const unit = Buffer.concat(frames.slice(first, end).map((f) => f.raw));
    const count = Math.ceil(STREAM_BYTES / unit.length);
    return { stream: Buffer.concat([prefix, Buffer.alloc(unit.length * count, unit)]), messages: count, messageBytes: unit.length };
  }
  return null;
}

const out = process.stdout;
out.write(`validators on steady-state traffic (${STREAM_BYTES >> 20} MiB per round, best of ${ROUNDS}, ${CHUNK >> 10} KiB chunks)\n`);
out.write(
  `${'protocol'.padEnd(10)}${'direction'.padEnd(11)}${'message'.padStart(9)}${'MB/s'.padStart(8)}${'messages/s'.padStart(13)}${'frames/s'.padStart(12)}${`core at ${Math.round(proxyMsgs / 1000)}k msg/s`.padStart(22)}\n`,
);
for (const [name, module] of PROTOCOLS) {
  for (const direction of ['toServer', 'toClient'] as const) {
    const traffic = steadyState(name, direction);
    if (!traffic) {
      out.write(`${name.padEnd(10)}${direction.padEnd(11)}  no message in the corpus\n`);
      continue;
    }
    let best = { seconds: Infinity, frames: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const codec = module.createPair()[direction];
      let frames = 0;
      const started = process.hrtime.bigint();
      for (let off = 0; off < traffic.stream.length; off += CHUNK) frames += codec.push(traffic.stream.subarray(off, off + CHUNK)).length;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (seconds < best.seconds) best = { seconds, frames };
    }
    const mbps = traffic.stream.length / 1e6 / best.seconds;
    const msgs = traffic.messages / best.seconds;
    const share = (proxyMsgs / msgs) * 100;
    out.write(
      `${name.padEnd(10)}${direction.padEnd(11)}${`${traffic.messageBytes} B`.padStart(9)}${mbps.toFixed(0).padStart(8)}${Math.round(msgs).toLocaleString('en').padStart(13)}${Math.round(best.frames / best.seconds).toLocaleString('en').padStart(12)}${`${share.toFixed(1)} %`.padStart(22)}\n`,
    );
  }
}
