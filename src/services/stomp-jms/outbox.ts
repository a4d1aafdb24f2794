import type { Duplex } from 'node:stream';
import type { Session, Source } from '../../session';

interface Item {
  readonly frame: Buffer;
  /** Client-visible destination of a MESSAGE; `null` for control frames (never dropped). */
  readonly destination: string | null;
  readonly conflatable: boolean;
  readonly onSent: (() => void) | undefined;
}

/** Outboxes whose socket is corked until the current tick ends. */
const corked: Outbox[] = [];

function uncorkAll(): void {
  for (let i = 0; i < corked.length; i++) (corked[i] as Outbox).uncork();
  corked.length = 0;
}

/**
 * Frames on their way to one client. They go straight to the client's connection while it
 * drains; while the session's valve has paused its producer (the client is slow), they wait here,
 * at most `max` messages. Past the bound a message for a conflatable destination drops the oldest held
 * message of a conflatable destination; otherwise `onOverflow` runs (the session ends).
 *
 * Frames written in one tick (several broker messages read in one chunk, each fanned out to
 * every subscriber) leave in one socket write: the first write of a tick corks the socket, and
 * the end of the tick uncorks every corked socket at once. Each frame is still a WebSocket
 * message of its own (over TCP, frames follow each other on the stream); a frame written to many
 * clients in a row is framed once for all of them (`Session.sendShared`).
 */
export class Outbox implements Source {
  private items: Item[] = [];
  private head = 0;
  private paused = false;
  /** Messages dropped by conflation. */
  dropped = 0;
  /** The most frames ever held at once. */
  peakHeld = 0;
  lastSentAt = Date.now();
  private readonly socket: Duplex | null;
  private isCorked = false;

  constructor(
    private readonly session: Session,
    private readonly max: number,
    private readonly onOverflow: (destination: string) => void,
  ) {
    this.socket = session.transport.socket();
  }

  get held(): number {
    return this.items.length - this.head;
  }

  /** Queues or sends one frame; `onSent` runs when it is handed to the client's connection. */
  push(frame: Buffer, destination: string | null, conflatable = false, onSent?: () => void): void {
    if (!this.paused && this.held === 0) {
      this.write(frame, onSent);
      return;
    }
    this.items.push({ frame, destination, conflatable, onSent });
    if (this.held > this.peakHeld) this.peakHeld = this.held;
    if (destination === null || this.held <= this.max) return;
    if (conflatable) {
      for (let i = this.head; i < this.items.length - 1; i++) {
        if ((this.items[i] as Item).conflatable) {
          this.items.splice(i, 1);
          this.dropped++;
          return;
        }
      }
    }
    this.onOverflow(destination);
  }

  private write(frame: Buffer, onSent: (() => void) | undefined): void {
    if (!this.isCorked && this.socket !== null) {
      this.isCorked = true;
      this.socket.cork();
      if (corked.push(this) === 1) process.nextTick(uncorkAll);
    }
    this.lastSentAt = Date.now();
    this.session.sendShared(frame, false);
    onSent?.();
  }

  /** Writes out what the socket gathered this tick. */
  uncork(): void {
    this.isCorked = false;
    this.socket?.uncork();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.drain(false);
  }

  /** Sends what is held: while the client drains, or everything (`force`, before a close). */
  drain(force: boolean): void {
    while (this.head < this.items.length && (force || !this.paused)) {
      const it = this.items[this.head++] as Item;
      this.write(it.frame, it.onSent);
    }
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Forgets what is held (the session is gone). */
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
