import { Resources, openClient, service, startGateway, tcpServer, waitFor } from '../../support/gateway';

const res = new Resources();
afterEach(() => res.closeAll());

/** irc.proxy with WEBIRC in front of a local TCP server; returns what the server received. */
async function webircLine(headers: Record<string, string>, webirc: Record<string, unknown> | undefined, trustedProxies: string[] = ['127.0.0.1']): Promise<string> {
  const chunks: Buffer[] = [];
  const backend = await tcpServer(res, (socket) => socket.on('data', (c: Buffer) => chunks.push(c)));
  const gw = await startGateway(res, {
    gangway: { trustedProxies },
    services: [service('irc', 'irc.proxy', '/irc', { connect: `tcp://127.0.0.1:${backend.port}`, properties: webirc ? { webirc } : {} })],
  });
  const ws = await openClient(res, gw.ws('/irc'), 'text.ircv3.net', { headers });
  ws.send('NICK alice');
  const text = (): string => Buffer.concat(chunks).toString();
  await waitFor(() => text().endsWith('NICK alice\r\n'), 5000, 'NICK at the server');
  return text();
}

describe('irc.proxy WEBIRC preamble', () => {
  it('sends WEBIRC password gateway host ip before the first client line', async () => {
    expect(await webircLine({ 'X-Forwarded-For': '198.51.100.7' }, { password: 's3cret' })).toBe('WEBIRC s3cret gangway 198.51.100.7 198.51.100.7\r\nNICK alice\r\n');
  });

  it('passes IPv6 addresses as they are when they start with a digit or letter', async () => {
    expect(await webircLine({ Forwarded: 'for="[2001:db8::1]:4711"' }, { password: 'pw', gateway: 'edge-1' })).toBe('WEBIRC pw edge-1 2001:db8::1 2001:db8::1\r\nNICK alice\r\n');
  });

  it('puts a 0 before an IPv6 address that starts with ":" (it would read as a trailing parameter)', async () => {
    expect(await webircLine({ 'X-Forwarded-For': '::1' }, { password: 'pw' })).toBe('WEBIRC pw gangway 0::1 0::1\r\nNICK alice\r\n');
    expect(await webircLine({ 'X-Forwarded-For': '::ffff:10.1.2.3' }, { password: 'pw' })).toBe('WEBIRC pw gangway 10.1.2.3 10.1.2.3\r\nNICK alice\r\n');
  });

  it('uses the socket peer when it is not a trusted proxy, and sends no WEBIRC when not configured', async () => {
    expect(await webircLine({ 'X-Forwarded-For': '198.51.100.7' }, { password: 'pw' }, [])).toBe('WEBIRC pw gangway 127.0.0.1 127.0.0.1\r\nNICK alice\r\n');
    expect(await webircLine({ 'X-Forwarded-For': '198.51.100.7' }, undefined)).toBe('NICK alice\r\n');
  });
});
