import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort, spawnLogged, waitForPort } from '../processes';

/**
 * The Gangway under test: one process of its own (`node dist/src/cli.js start -c FILE`) with, for
 * every back end, a byte `proxy` service and the protocol proxy service, side by side on one port,
 * and a `management` service whose metrics count the WebSocket messages each service sends.
 */

/** One back end: the TCP port Gangway connects to and the services in front of it. */
export interface Route {
  /** Path suffix and service name part, e.g. `stomp-rabbitmq`. */
  readonly name: string;
  readonly port: number;
  /** The protocol proxy type, e.g. `stomp.proxy`. */
  readonly type: string;
  /** Subprotocols the byte `proxy` agrees to: the ones the clients on that path offer. */
  readonly byteSubprotocols: readonly string[];
  /** What the byte `proxy` sends its client: `mirror` (the client's own type) or `binary`. */
  readonly byteMessageType: 'mirror' | 'binary';
}

export interface Gangway {
  readonly proc: ChildProcess;
  readonly port: number;
  /** `ws://127.0.0.1:PORT/bytes/NAME`: the byte `proxy` to the route's back end. */
  proxyUrl(route: string): string;
  /** `ws://127.0.0.1:PORT/NAME`: the protocol proxy. */
  protocolUrl(route: string): string;
  /** `/NAME`, the protocol proxy's path. */
  protocolPath(route: string): string;
  /** The `management` service's Prometheus text. */
  readonly metricsUrl: string;
}

function config(port: number, routes: readonly Route[]): string {
  const limits = ['    limits:', '      connectionsPerSecondPerIp: 1000', '      idleTimeoutMs: 0'];
  const lines = [
    '# Written by bench/proxy/protocols/run.ts for one benchmark run.',
    'gangway:',
    '  log:',
    '    level: warn',
    'services:',
    '  - name: management',
    '    type: management',
    `    accept: http://127.0.0.1:${port}/`,
  ];
  for (const r of routes) {
    lines.push(
      `  - name: ${r.name}-bytes`,
      '    type: proxy',
      `    accept: ws://127.0.0.1:${port}/bytes/${r.name}`,
      `    connect: tcp://127.0.0.1:${r.port}`,
      `    subprotocols: [${r.byteSubprotocols.join(', ')}]`,
      '    properties:',
      `      messageType: ${r.byteMessageType}`,
      ...limits,
      `  - name: ${r.name}`,
      `    type: ${r.type}`,
      `    accept: ws://127.0.0.1:${port}/${r.name}`,
      `    connect: tcp://127.0.0.1:${r.port}`,
      ...limits,
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** Starts Gangway with `routes`; its log is `gangway.log` in `tmp`. */
export async function startGangway(cli: string, tmp: string, routes: readonly Route[]): Promise<Gangway> {
  const port = await freePort();
  const file = join(tmp, 'gangway.yaml');
  writeFileSync(file, config(port, routes));
  const log = join(tmp, 'gangway.log');
  const proc = spawnLogged(process.execPath, [cli, 'start', '-c', file], log);
  await waitForPort(port, proc, 'Gangway', log);
  return {
    proc,
    port,
    proxyUrl: (route) => `ws://127.0.0.1:${port}/bytes/${route}`,
    protocolUrl: (route) => `ws://127.0.0.1:${port}/${route}`,
    protocolPath: (route) => `/${route}`,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
  };
}
