import type { Pair, Receive } from './pair';

/**
 * The two measurements, the same for every protocol and path. Bodies are text:
 * `TAG SEQ SENT_AT` padded with dots to the message size, where TAG names the phase (so a late
 * message of an earlier phase is never counted) and SENT_AT is the publisher's
 * `performance.now()` at the moment it handed the message to its client library. Publisher and
 * subscriber live in this one process, so the receiver reads the same clock.
 */

/** Where a pair's subscriber delivers; each phase points `receive` at its own handler. */
export interface Sink {
  receive: Receive;
}

/** Called at the edges of the measured throughput window, to sample CPU exactly over it. */
export interface Marks {
  start(): void;
  end(): void;
}

export interface ThroughputRound {
  readonly messagesPerSecond: number;
  /** Messages that arrived in the whole round, warm-up and drain included. */
  readonly received: number;
  /** Messages sent in the round that had not arrived 10 s after sending stopped. */
  readonly lost: number;
}

export interface LatencyRound {
  /** Publisher-to-subscriber times in ms, in arrival order. */
  readonly samples: number[];
  /** Messages that had not arrived 5 s after the last was sent. */
  readonly lost: number;
}

let phases = 0;

function phaseTag(): string {
  phases += 1;
  return `p${phases}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The body of message `seq` of phase `tag`, `size` characters long (longer if the header needs it). */
function body(tag: string, seq: number, size: number): string {
  const head = `${tag} ${seq} ${performance.now().toFixed(3)} `;
  return head.length >= size ? head : head + '.'.repeat(size - head.length);
}

/** The phase tag, sequence number and send time of a body, or null when it is not one of ours. */
function parse(text: string): { tag: string; sentAt: number } | null {
  const [tag, seq, sentAt] = text.split(' ', 3);
  if (tag === undefined || seq === undefined || sentAt === undefined) return null;
  return { tag, sentAt: Number(sentAt) };
}

/** Resolves when `done()` says so or after `ms`, whichever is first; true if `done` held. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

/**
 * End-to-end throughput: `window` messages are kept in flight (the publisher sends one more for
 * each that arrives), for `warmupMs` unmeasured and then `durationMs` measured. Messages/s counts
 * arrivals at the subscriber inside the measured window.
 */
export async function throughput(pair: Pair, sink: Sink, options: { window: number; warmupMs: number; durationMs: number; size: number }, marks: Marks): Promise<ThroughputRound> {
  const tag = phaseTag();
  let sent = 0;
  let received = 0;
  let counted = 0;
  let sending = true;
  let counting = false;
  // A send that throws (the pair failed) stops the round; it runs in a client library's callback, so it is kept, not thrown there.
  let failed: unknown = null;
  const refill = (): void => {
    try {
      while (sending && sent - received < options.window) {
        pair.send(body(tag, sent, options.size));
        sent += 1;
      }
    } catch (err) {
      failed ??= err;
      sending = false;
    }
  };
  sink.receive = (text) => {
    if (parse(text)?.tag !== tag) return;
    received += 1;
    if (counting) counted += 1;
    refill();
  };
  refill();
  await sleep(options.warmupMs);
  if (failed === null && received === 0) failed = new Error(`no message arrived within ${options.warmupMs} ms`);
  if (failed !== null) throw failed;
  marks.start();
  counting = true;
  const t0 = performance.now();
  await sleep(options.durationMs);
  counting = false;
  sending = false;
  const seconds = (performance.now() - t0) / 1000;
  marks.end();
  if (failed !== null) throw failed;
  await until(() => received >= sent, 10_000);
  sink.receive = () => undefined;
  return { messagesPerSecond: counted / seconds, received, lost: sent - received };
}

/**
 * Latency at a fixed rate: `rate` messages per second for `durationMs`, sent on a schedule (a
 * timer sends every message that is due, so a late timer sends a small burst, never fewer
 * messages). Each sample is arrival time minus the publisher's stamp.
 */
export async function latency(pair: Pair, sink: Sink, options: { rate: number; durationMs: number; size: number }): Promise<LatencyRound> {
  const tag = phaseTag();
  const total = Math.round((options.rate * options.durationMs) / 1000);
  const interval = 1000 / options.rate;
  const samples: number[] = [];
  sink.receive = (text) => {
    const found = parse(text);
    if (found?.tag !== tag) return;
    samples.push(performance.now() - found.sentAt);
  };
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    const tick = (): void => {
      try {
        while (sent < total && start + sent * interval <= performance.now()) {
          pair.send(body(tag, sent, options.size));
          sent += 1;
        }
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
      else resolve();
    };
    tick();
  });
  await until(() => samples.length >= total, 5000);
  sink.receive = () => undefined;
  return { samples, lost: total - samples.length };
}
