import { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { Session, Source } from '../../session';
import { webSocketTextFrame } from './frames';

interface Item {
  readonly frame: Buffer;
  /** Client-visible destination of a MESSAGE; `null` for control frames (never dropped). */
  readonly destination: string | null;
  readonly conflatable: boolean;
  readonly onSent: (() => void) | undefined;
}

/**
 * The TCP socket under a WebSocket. ws keeps it in `_socket` and has no public accessor; a
 * WebSocket without one (not yet or no longer connected) gives `null`.
 */
function socketOf(ws: WebSocket): Duplex | null {
  const socket: unknown = Reflect.get(ws, '_socket');
  return socket instanceof Duplex ? socket : null;
}

/**
 * The frame written last and, from its second write on, the same as a WebSocket frame. A shared
 * subscription hands one frame to its subscribers one after another, so that frame is put in a
 * WebSocket frame once and written as it is to every subscriber's socket (encode once, write
 * many); a frame written once goes through ws as any other. Frames are known by identity: no
 * frame buffer changes once it is handed to an outbox.
 */
let lastFrame: Buffer | null = null;
let lastWire: Buffer | null = null;

function framedAgain(frame: Buffer): Buffer | null {
  if (frame === lastFrame) return (lastWire ??= webSocketTextFrame(frame));
  lastFrame = frame;
  lastWire = null;
  return null;
}

/** Outboxes whose socket is corked until the current tick ends. */
const corked: Outbox[] = [];

function uncorkAll(): void {
  for (let i = 0; i < corked.length; i++) (corked[i] as Outbox).uncork();
  corked.length = 0;
}

/**
 * Frames on their way to one client. They go straight to the WebSocket while it drains; while
 * the session's valve has paused its producer (the client is slow), they wait here, at most
 * `max` messages. Past the bound a message for a conflatable destination drops the oldest held
 * message of a conflatable destination; otherwise `onOverflow` runs (the session ends).
 *
 * Frames written in one tick (several broker messages read in one chunk, each fanned out to
 * every subscriber) leave in one socket write: the first write of a tick corks the socket, and
 * the end of the tick uncorks every corked socket at once. Each frame is still a WebSocket
 * message of its own; a frame written to many clients in a row is framed once (see
 * {@link framedAgain}).
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
  /**
   * The socket, when whole WebSocket frames may be written to it: it is a ws WebSocket's and no
   * extension was agreed. ws then writes every message straight to the socket as it is sent (it
   * queues only to compress, or to read a Blob, which Gangway never sends), so frames written
   * beside it keep their order.
   */
  private readonly frameSocket: Duplex | null;
  private isCorked = false;

  constructor(
    private readonly session: Session,
    private readonly max: number,
    private readonly onOverflow: (destination: string) => void,
  ) {
    this.socket = socketOf(session.ws);
    this.frameSocket = session.ws instanceof WebSocket && session.ws.extensions === '' ? this.socket : null;
  }

  get held(): number {
    return this.items.length - this.head;
  }

  /** Queues or sends one frame; `onSent` runs when it is handed to the WebSocket. */
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
    this.send(frame);
    onSent?.();
  }

  private send(frame: Buffer): void {
    const socket = this.frameSocket;
    if (socket !== null && this.session.ws.readyState === WebSocket.OPEN) {
      const wire = framedAgain(frame);
      if (wire !== null) {
        this.session.sendFrame(wire, frame.length, socket);
        return;
      }
    }
    this.session.send(frame, false);
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
