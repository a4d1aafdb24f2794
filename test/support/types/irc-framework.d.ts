/**
 * The part of irc-framework 4.x (which ships no types) that Gangway's code and tests use.
 * Source of truth: node_modules/irc-framework/src/client.js and src/commands/handlers/.
 */
declare module 'irc-framework' {
  import { EventEmitter } from 'node:events';

  /** Options of `new Client(options)` and `client.connect(options)`. */
  export interface ClientOptions {
    host?: string;
    /** @default 6667 */
    port?: number;
    nick?: string;
    username?: string;
    gecos?: string;
    /** Server password (PASS). */
    password?: string;
    /** Implicit TLS. Trust comes from Node's CA store (and NODE_EXTRA_CA_CERTS). */
    tls?: boolean;
    /** @default true (Node's default) */
    rejectUnauthorized?: boolean;
    encoding?: string;
    /** @default true */
    auto_reconnect?: boolean;
    auto_reconnect_max_wait?: number;
    auto_reconnect_max_retries?: number;
    /** Seconds. @default 30 */
    ping_interval?: number;
    /** Seconds. @default 120 */
    ping_timeout?: number;
    message_max_length?: number;
    version?: string | null;
  }

  /** `registered`: the server sent 001 RPL_WELCOME. */
  export interface RegisteredEvent {
    nick: string;
  }

  /** `join`: someone (possibly this client) joined a channel. */
  export interface JoinEvent {
    nick: string;
    ident: string;
    hostname: string;
    gecos: string;
    channel: string;
  }

  /** `message` (any kind), `privmsg`, `notice`, `action`. */
  export interface MessageEvent {
    type?: 'privmsg' | 'notice' | 'action';
    from_server: boolean;
    nick: string;
    ident: string;
    hostname: string;
    target: string;
    message: string;
  }

  /** `irc error`: an error numeric from the server. */
  export interface IrcErrorEvent {
    error: string;
    channel?: string;
    nick?: string;
    reason: string;
  }

  /** One connection to an IRC server. */
  export class Client extends EventEmitter {
    constructor(options?: ClientOptions);
    /** Connects using the constructor's options merged with `options`. */
    connect(options?: ClientOptions): void;
    join(channel: string, key?: string): void;
    part(channel: string, message?: string): void;
    say(target: string, message: string): void;
    notice(target: string, message: string): void;
    /** Sends QUIT and closes the connection (no reconnect). */
    quit(message?: string): void;
    raw(...args: string[]): void;
    changeNick(nick: string): void;
    readonly connected: boolean;
    readonly user: { nick: string; username: string; gecos: string };

    on(event: 'registered' | 'connected', listener: (event: RegisteredEvent) => void): this;
    on(event: 'join', listener: (event: JoinEvent) => void): this;
    on(event: 'message' | 'privmsg' | 'notice' | 'action', listener: (event: MessageEvent) => void): this;
    on(event: 'irc error', listener: (event: IrcErrorEvent) => void): this;
    /** The connection is closed for good; `error` is true when it ended with an error. */
    on(event: 'close', listener: (error: boolean) => void): this;
    on(event: 'socket close', listener: (error?: Error) => void): this;
    on(event: 'raw', listener: (event: { line: string; from_server: boolean }) => void): this;
    once(event: 'registered' | 'connected', listener: (event: RegisteredEvent) => void): this;
    once(event: 'join', listener: (event: JoinEvent) => void): this;
    once(event: 'message' | 'privmsg' | 'notice' | 'action', listener: (event: MessageEvent) => void): this;
    once(event: 'irc error', listener: (event: IrcErrorEvent) => void): this;
    once(event: 'close', listener: (error: boolean) => void): this;
    once(event: 'socket close', listener: (error?: Error) => void): this;
  }
}
