import type { Duplex } from 'node:stream';

/** Something that can stop and restart producing data (a socket, a WebSocket). */
export interface Source {
  pause(): void;
  resume(): void;
}

/**
 * Accept URI families a transport serves: `ws` (WebSocket, `ws://` and `wss://`) and `tcp` (a
 * byte stream, `tcp://` and `tls://`).
 */
export type TransportKind = 'ws' | 'tcp';

/**
 * One client connection as a session sees it, whatever carries it: a WebSocket (messages, close
 * codes and reasons, pings) or a TCP or TLS byte stream (reads, an end of stream, no close codes).
 * Pausing stops reading from the client.
 */
export interface Transport extends Source {
  readonly kind: TransportKind;
  /** The subprotocol agreed at the WebSocket upgrade; `''` for none, and on byte streams. */
  readonly protocol: string;
  /**
   * Whether a close reaches the client with its code and reason (a WebSocket close frame). Where it
   * does not, Gangway tells the client why in the session's own protocol before closing
   * (`Session.closeByGateway`).
   */
  readonly closeFrames: boolean;
  /** The socket under the transport, to cork around batched writes; `null` when there is none. */
  socket(): Duplex | null;
  /** Each WebSocket message, or each read of a byte stream (always binary). */
  onMessage(listener: (data: Buffer, binary: boolean) => void): void;
  /** Writes one message; `done` runs once the socket has taken it, or when it was dropped by a close. */
  send(data: Buffer, binary: boolean, done: () => void): void;
  /**
   * Writes one message as {@link send} does, for a message that is handed unchanged to many
   * clients one after another (a fan-out): the transport may encode it once for all of them.
   * `data` must not change once handed over.
   */
  sendShared(data: Buffer, binary: boolean, done: () => void): void;
  /**
   * Ends the connection: the WebSocket close handshake with `code` and `reason`; a byte stream ends
   * after what was written (the code and reason only reach the logs).
   */
  close(code: number, reason: string): void;
  /** Drops the connection at once. */
  terminate(): void;
  /** Sends a keep-alive probe the client must answer (WebSocket ping); absent where the transport has none. */
  ping?(): void;
  /**
   * Runs once the connection has closed: with the WebSocket close code and reason; on a byte stream
   * 1000 after a clean end, and 1006 after an error (a reset) with the error code as the reason.
   */
  onClose(listener: (code: number, reason: string) => void): void;
}
