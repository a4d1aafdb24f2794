/**
 * Credential injection over a back-end link that is TLS from the first byte (`tls://`): the link
 * is encrypted, so the stored credential goes out without `allowPlaintextCredentials`. A local TLS
 * server with a throwaway certificate plays a STOMP broker and records the CONNECT it is sent.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { WebSocket } from 'ws';
import { Resources, closed, openClient, selfSignedCertificate, service, startGateway, waitFor } from '../../support/gateway';

const res = new Resources();
afterEach(() => res.closeAll());

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gangway-inject-tls-'));
  selfSignedCertificate(dir, 'mq.internal', 'DNS:mq.internal');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A TLS STOMP stand-in: answers the first frame with CONNECTED and hands it to `frames`. */
async function tlsBroker(frames: string[]): Promise<number> {
  const server = tls.createServer({ cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }, (socket) => {
    let text = '';
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\0');
      if (end < 0 || frames.length > 0) return;
      frames.push(text.slice(0, end));
      socket.write('CONNECTED\nversion:1.2\n\n\0');
    });
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  res.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** A STOMP client of a stomp.proxy that injects a service credential over `tls://` to `port`, checking `serverName`. */
async function clientThrough(port: number, serverName: string): Promise<WebSocket> {
  const gw = await startGateway(res, {
    services: [
      service('mq', 'stomp.proxy', '/stomp', {
        connect: `tls://127.0.0.1:${port}`,
        properties: {
          tls: { caFile: join(dir, 'cert.pem'), serverName },
          inject: { source: 'service', username: 'gateway-user', password: 'stored-secret' },
        },
      }),
    ],
  });
  return openClient(res, gw.ws('/stomp'), 'v12.stomp');
}

describe('credential injection over a tls:// back-end link', () => {
  it('injects the service credential into CONNECT without allowPlaintextCredentials, after verifying the server', async () => {
    const frames: string[] = [];
    const ws = await clientThrough(await tlsBroker(frames), 'mq.internal');
    const received: string[] = [];
    ws.on('message', (m: Buffer) => received.push(m.toString('utf8')));
    ws.send('CONNECT\naccept-version:1.2\nhost:/\nlogin:someone-else\npasscode:client-guess\n\n\0');
    await waitFor(() => received.length > 0, 5000, 'CONNECTED');
    expect(received[0]).toMatch(/^CONNECTED\n/);
    const headers = (frames[0] as string).split('\n');
    expect(headers).toContain('login:gateway-user');
    expect(headers).toContain('passcode:stored-secret');
    expect(headers.some((h) => h.includes('client-guess') || h.includes('someone-else'))).toBe(false);
  });

  it('refuses the session when the server is not the one serverName names, before any credential goes out', async () => {
    const frames: string[] = [];
    const ws = await clientThrough(await tlsBroker(frames), 'other.internal');
    ws.send('CONNECT\naccept-version:1.2\nhost:/\n\n\0');
    const c = await closed(ws);
    expect(c.code).toBe(1011);
    expect(c.reason).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(frames).toEqual([]);
  });
});
