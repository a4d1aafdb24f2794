/**
 * The part of @xmpp/client 0.14 (which ships no types) that Gangway's code and tests use.
 * Source of truth: node_modules/@xmpp/client/index.js, @xmpp/connection, @xmpp/xml (ltx).
 */
declare module '@xmpp/client' {
  import { EventEmitter } from 'node:events';

  /** Attribute values of an XML element. */
  export type Attributes = Record<string, string | undefined>;

  /** An XML element (ltx). */
  export interface Element {
    name: string;
    attrs: Attributes;
    children: Array<Element | string>;
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    text(): string;
    toString(): string;
  }

  /** Builds an element: `xml('message', { to, type }, xml('body', {}, text))`. */
  export function xml(name: string, attrs?: Attributes | null, ...children: Array<Element | string>): Element;

  /** A Jabber ID. */
  export interface JID {
    local: string;
    domain: string;
    resource: string;
    bare(): JID;
    toString(): string;
  }

  export function jid(address: string): JID;

  /** Runs SASL with one mechanism; rejects when the server refuses the credentials. */
  export type Authenticate = (credentials: { username: string; password: string }, mechanism: string) => Promise<void>;

  export interface ClientOptions {
    /** `xmpp://host:port` (STARTTLS), `xmpps://host:port` (direct TLS), `ws://`, `wss://`. */
    service: string;
    /** @default the host of `service` */
    domain?: string;
    resource?: string;
    username?: string;
    password?: string;
    /** Chooses the mechanism and credentials; `mechanisms` is what the server offers. */
    credentials?: (authenticate: Authenticate, mechanisms: string[]) => Promise<void>;
    /** Milliseconds for connect, open and close. */
    timeout?: number;
  }

  export type Status =
    | 'offline' | 'connecting' | 'connect' | 'opening' | 'open' | 'online'
    | 'closing' | 'close' | 'disconnecting' | 'disconnect';

  /** An XMPP client connection. */
  export interface Client extends EventEmitter {
    jid: JID | null;
    status: Status;
    /** Connects, negotiates (STARTTLS, SASL, resource binding) and resolves when online. */
    start(): Promise<JID>;
    /** Closes the stream and the socket. */
    stop(): Promise<void>;
    send(...elements: Element[]): Promise<void>;
    /** True once the transport is encrypted (TLS or STARTTLS). */
    isSecure(): boolean;
    readonly reconnect: { stop(): void };

    on(event: 'stanza', listener: (stanza: Element) => void): this;
    on(event: 'online', listener: (address: JID) => void): this;
    on(event: 'offline', listener: () => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    on(event: 'status', listener: (status: Status) => void): this;
    off(event: 'stanza', listener: (stanza: Element) => void): this;
  }

  export function client(options: ClientOptions): Client;
}
