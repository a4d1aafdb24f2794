/**
 * irc.proxy in front of a local TCP server playing the IRC server: WEBIRC, the IRCv3 WebSocket
 * subprotocols both ways, and the server's lines validated or, with validateServer: false, cut only.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { Resources, closed, openClient, service, startGateway, tcpServer, toBuffer, waitFor, type StartedGateway } from '../../support/gateway';

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

/** A client of irc.proxy speaking `subprotocol`, the server-side socket and what each side received. */
async function session(subprotocol: string, properties: Record<string, unknown> = {}): Promise<{
  ws: WebSocket;
  server: Socket;
  atServer: () => string;
  messages: { data: Buffer; isBinary: boolean }[];
  gw: StartedGateway;
}> {
  const chunks: Buffer[] = [];
  const backend = await tcpServer(res, (socket) => socket.on('data', (c: Buffer) => chunks.push(c)));
  const gw = await startGateway(res, { services: [service('irc', 'irc.proxy', '/irc', { connect: `tcp://127.0.0.1:${backend.port}`, properties })] });
  const ws = await openClient(res, gw.ws('/irc'), subprotocol);
  expect(ws.protocol).toBe(subprotocol);
  const messages: { data: Buffer; isBinary: boolean }[] = [];
  ws.on('message', (data, isBinary) => messages.push({ data: toBuffer(data), isBinary }));
  return { ws, server: await backend.nextSocket(), atServer: () => Buffer.concat(chunks).toString('latin1'), messages, gw };
}

describe('irc.proxy binary.ircv3.net', () => {
  it('takes one IRC line per binary message and sends one per binary message, without line ends, both ways', async () => {
    const { ws, server, atServer, messages, gw } = await session('binary.ircv3.net');
    ws.send(Buffer.from('NICK alice'), { binary: true });
    ws.send(Buffer.from('@+draft/reply=1 PRIVMSG #c :h\u00e9llo'), { binary: true });
    await waitFor(() => atServer().endsWith('PRIVMSG #c :h\u00c3\u00a9llo\r\n'), 5000, 'both lines at the server');
    expect(atServer()).toBe('NICK alice\r\n@+draft/reply=1 PRIVMSG #c :h\u00c3\u00a9llo\r\n');

    // Two lines in one read and one split across reads, CRLF and a bare LF.
    server.write(':srv 001 alice :Welcome\r\n@time=2024-01-01T00:00:00Z :bob!b@h PRIVMSG alice :h\u00e9');
    await waitFor(() => messages.length === 1, 5000, 'the first line');
    server.write(Buffer.from('llo\nPING :srv\r\n', 'latin1'));
    await waitFor(() => messages.length === 3, 5000, 'three lines');
    expect(messages.map((m) => [m.isBinary, m.data.toString('latin1')])).toEqual([
      [true, ':srv 001 alice :Welcome'],
      [true, '@time=2024-01-01T00:00:00Z :bob!b@h PRIVMSG alice :h\u00c3\u00a9llo'],
      [true, 'PING :srv'],
    ]);
    const frames = gw.gateway.metrics.service('irc').frames;
    expect([frames.get('toServer PRIVMSG'), frames.get('toClient PRIVMSG'), frames.get('toClient 001')]).toEqual([1, 1, 1]);
  });

  it('refuses a binary message holding two lines with an ERROR line as a binary message, and forwards neither', async () => {
    const { ws, atServer, messages } = await session('binary.ircv3.net');
    ws.send(Buffer.from('NICK alice'), { binary: true });
    await waitFor(() => atServer() === 'NICK alice\r\n', 5000, 'NICK at the server');
    ws.send(Buffer.from('PRIVMSG #c :one\r\nPRIVMSG #c :two'), { binary: true });
    expect((await closed(ws)).code).toBe(1008);
    expect(messages.map((m) => [m.isBinary, m.data.toString()])).toEqual([[true, 'ERROR :NUL, bare CR, or a line break where none may be (GW_ERR_IRC_FORBIDDEN_CHAR)']]);
    await waitFor(() => atServer().includes('QUIT'), 5000, 'the QUIT');
    expect(atServer()).toBe('NICK alice\r\nQUIT :Gangway refused the client input\r\n');
  });
});

describe('irc.proxy validateServer', () => {
  // A command of letters and digits, and bytes that are not UTF-8: the IRC validator refuses both from a server.
  const LINES = Buffer.from(':srv 001 alice :Welcome\r\n:srv N0TICE alice :hi\r\n:bob!b@h PRIVMSG alice :caf\xe9\r\n', 'latin1');

  it('by default refuses a malformed server line with 1014; the lines before it were sent on', async () => {
    const { ws, server, messages, gw } = await session('text.ircv3.net');
    const [welcome, rest] = [LINES.subarray(0, LINES.indexOf('\n') + 1), LINES.subarray(LINES.indexOf('\n') + 1)];
    server.write(welcome);
    await waitFor(() => messages.length === 1, 5000, 'the first line');
    server.write(rest);
    expect((await closed(ws)).code).toBe(1014);
    expect(messages.map((m) => m.data.toString())).toEqual([':srv 001 alice :Welcome']);
    expect([...gw.gateway.metrics.service('irc').errors]).toEqual([['GW_ERR_IRC_BAD_COMMAND', 1]]);
  });

  it('with validateServer: false, sends every line as it came, text with U+FFFD for bytes that are not UTF-8, binary as they are', async () => {
    const text = await session('text.ircv3.net', { validateServer: false });
    text.server.write(LINES);
    await waitFor(() => text.messages.length === 3, 5000, 'three lines');
    expect(text.messages.map((m) => [m.isBinary, m.data.toString()])).toEqual([
      [false, ':srv 001 alice :Welcome'],
      [false, ':srv N0TICE alice :hi'],
      [false, ':bob!b@h PRIVMSG alice :caf\ufffd'],
    ]);
    expect(text.gw.gateway.metrics.service('irc').frames.size).toBe(0);

    const binary = await session('binary.ircv3.net', { validateServer: false });
    binary.server.write(LINES);
    await waitFor(() => binary.messages.length === 3, 5000, 'three lines');
    expect(binary.messages.map((m) => m.isBinary)).toEqual([true, true, true]);
    expect(binary.messages[2]?.data).toEqual(Buffer.from(':bob!b@h PRIVMSG alice :caf\xe9', 'latin1'));
  });

  it('with validateServer: false, still refuses a server line above the longest line', async () => {
    const { ws, server, messages, gw } = await session('text.ircv3.net', { validateServer: false, limits: { maxMessageBytes: 64, maxTagBytes: 16 } });
    server.write(`:srv NOTICE alice :${'x'.repeat(80)}\r\n`);
    expect((await closed(ws)).code).toBe(1014);
    expect(messages).toEqual([]);
    expect([...gw.gateway.metrics.service('irc').errors]).toEqual([['GW_ERR_IRC_LINE_TOO_LONG', 1]]);
  });
});
