/**
 * Shared pieces of the protocol-proxy integration tests: a TCP tap between Gangway and a real
 * server that records every byte each side sent, a `ws` client that collects what it receives,
 * and readers for Gangway's metrics.
 */
import net from 'node:net';
import { WebSocket, type RawData } from 'ws';
import type { Gateway } from '../../../src/gateway';
import { openClient, parseMetrics, sample, toBuffer, waitFor, type CloseEvent, type Resources } from '../../support/gateway';
import { findEnvFile, parseEnvFile } from '../../support/backends';
import { readFileSync } from 'node:fs';

/** One connection Gangway opened through the tap. */
export interface TapConnection {
  /** Every byte Gangway sent toward the server, in order. */
  readonly fromGangway: Buffer[];
  /** Every byte the server sent toward Gangway, in order. */
  readonly fromServer: Buffer[];
  /** Both directions, each chunk as the tap read it, in the order read. */
  readonly transcript: { readonly from: 'gangway' | 'server'; readonly data: Buffer }[];
  /** Resolves when Gangway ended or dropped its side of the connection. */
  readonly gangwayClosed: Promise<void>;
  /** Whether Gangway has ended or dropped its side. */
  isGangwayClosed(): boolean;
  /** The bytes Gangway sent so far, as one buffer. */
  sent(): Buffer;
  /** The bytes the server sent so far, as one buffer. */
  received(): Buffer;
}

/** A TCP forwarder to a real server; Gangway connects to `port`. */
export interface Tap {
  readonly port: number;
  readonly connections: TapConnection[];
  /** The first (or only) connection, once Gangway has opened it. */
  first(): Promise<TapConnection>;
}

/**
 * Starts a tap on 127.0.0.1 port 0 forwarding to `target`; registered for teardown. Bytes are
 * forwarded both ways unchanged and recorded.
 */
export async function startTap(res: Resources, target: { host: string; port: number }): Promise<Tap> {
  const connections: TapConnection[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((front) => {
    const fromGangway: Buffer[] = [];
    const fromServer: Buffer[] = [];
    const transcript: { from: 'gangway' | 'server'; data: Buffer }[] = [];
    let closedNow = false;
    const back = net.connect({ host: target.host, port: target.port });
    sockets.add(front);
    sockets.add(back);
    const gangwayClosed = new Promise<void>((resolve) => {
      const done = (): void => {
        closedNow = true;
        resolve();
      };
      front.once('end', done);
      front.once('close', done);
    });
    front.on('data', (chunk: Buffer) => {
      const data = Buffer.from(chunk);
      fromGangway.push(data);
      transcript.push({ from: 'gangway', data });
      back.write(chunk);
    });
    front.on('end', () => back.end());
    back.on('data', (chunk: Buffer) => {
      const data = Buffer.from(chunk);
      fromServer.push(data);
      transcript.push({ from: 'server', data });
      if (!front.destroyed) front.write(chunk);
    });
    back.on('end', () => front.end());
    front.on('error', () => back.destroy());
    back.on('error', () => front.destroy());
    front.on('close', () => back.destroy());
    back.on('close', () => front.destroy());
    connections.push({
      fromGangway,
      fromServer,
      transcript,
      gangwayClosed,
      isGangwayClosed: () => closedNow,
      sent: () => Buffer.concat(fromGangway),
      received: () => Buffer.concat(fromServer),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  res.add(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    first: async () => {
      await waitFor(() => connections.length > 0, 5000, 'Gangway to connect through the tap');
      return connections[0] as TapConnection;
    },
  };
}

/** A raw `ws` client that keeps every message it receives and its close. */
export interface RawClient {
  readonly ws: WebSocket;
  readonly messages: { data: Buffer; isBinary: boolean }[];
  /** Concatenation of every message received so far. */
  received(): Buffer;
  /** Resolves once `check` holds for the messages received so far (bounded). */
  until(check: (messages: readonly { data: Buffer; isBinary: boolean }[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Resolves with the close code and reason. */
  readonly closed: Promise<CloseEvent>;
}

/** Opens a `ws` client to `url` that records messages from the start. */
export async function rawClient(res: Resources, url: string, protocols?: string | string[], headers: Record<string, string> = {}): Promise<RawClient> {
  const ws = await openClient(res, url, protocols, { headers });
  const messages: { data: Buffer; isBinary: boolean }[] = [];
  ws.on('message', (data: RawData, isBinary: boolean) => messages.push({ data: toBuffer(data), isBinary }));
  const closed = new Promise<CloseEvent>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve({ code: 1006, reason: '' });
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }));
  });
  return {
    ws,
    messages,
    received: () => Buffer.concat(messages.map((m) => m.data)),
    until: (check, what, timeoutMs = 5000) => waitFor(() => check(messages), timeoutMs, what),
    closed,
  };
}

/** The service's value of `gangway_errors_total` for `code` (0 when absent). */
export async function errorCount(gateway: Gateway, service: string, code: string): Promise<number> {
  const samples = parseMetrics((await gateway.metricsText()).body);
  return sample(samples, 'gangway_errors_total', { service, code }) ?? 0;
}

/** The service's value of `gangway_frames_total` for one direction and kind (0 when absent). */
export async function frameCount(gateway: Gateway, service: string, direction: 'toServer' | 'toClient', kind: string): Promise<number> {
  const samples = parseMetrics((await gateway.metricsText()).body);
  return sample(samples, 'gangway_frames_total', { service, direction, kind }) ?? 0;
}

/** A value from compose/.env that test/support/backends.ts does not model. */
export function envValue(key: string): string {
  const file = findEnvFile();
  const value = parseEnvFile(readFileSync(file, 'utf8'), file).get(key);
  if (value === undefined || value === '') throw new Error(`${file}: ${key}: expected a value, found none (compose/.env)`);
  return value;
}
