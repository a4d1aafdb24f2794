import net from 'node:net';
import { proxyHeaderV2 } from '../../src/services/proxy-protocol';
import { Resources, onlySession, openClient, service, startGateway, tcpServer, waitFor } from '../support/gateway';

const res = new Resources();
afterEach(() => res.closeAll());

/** Hex with spaces and line breaks ignored. */
const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** The 12-byte signature of every v2 header (haproxy proxy-protocol.txt, section 2.2). */
const SIG = '0d0a0d0a 000d0a51 5549540a';

function header(remoteAddress: string, remotePort: number, localAddress: string, localPort: number): Buffer {
  return proxyHeaderV2({ remoteAddress, endpoints: { remotePort, localAddress, localPort } });
}

describe('proxyHeaderV2 (hand-computed fixtures from the haproxy spec)', () => {
  it('encodes TCP over IPv4: 0x21 PROXY, 0x11 TCP4, length 12, addresses, ports', () => {
    expect(header('192.0.2.1', 56324, '198.51.100.2', 443)).toEqual(
      hex(`${SIG} 21 11 000c  c0000201  c6336402  dc04  01bb`),
    );
  });

  it('treats IPv4-mapped IPv6 addresses on both ends as IPv4', () => {
    expect(header('::ffff:127.0.0.1', 40000, '::ffff:127.0.0.1', 8000)).toEqual(
      hex(`${SIG} 21 11 000c  7f000001  7f000001  9c40  1f40`),
    );
  });

  it('encodes TCP over IPv6: 0x21 TCP6, length 36, 16-byte addresses, ports', () => {
    expect(header('2001:db8::1', 4711, '::1', 8080)).toEqual(
      hex(`${SIG} 21 21 0024
        20010db8 00000000 00000000 00000001
        00000000 00000000 00000000 00000001
        1267 1f90`),
    );
  });

  it('expands "::" in the middle and keeps every group', () => {
    expect(header('2001:db8:0:0:1::2', 1, 'fe80::abcd:12', 65535)).toEqual(
      hex(`${SIG} 21 21 0024
        20010db8 00000000 00010000 00000002
        fe800000 00000000 00000000 abcd0012
        0001 ffff`),
    );
  });

  it('maps the IPv4 end into IPv6 when only one end is IPv6', () => {
    expect(header('2001:db8::7', 5000, '127.0.0.1', 80)).toEqual(
      hex(`${SIG} 21 21 0024
        20010db8 00000000 00000000 00000007
        00000000 00000000 0000ffff 7f000001
        1388 0050`),
    );
  });

  it('sends UNSPEC without addresses when an end is not an IP address', () => {
    expect(header('unknown', 0, '127.0.0.1', 80)).toEqual(hex(`${SIG} 21 00 0000`));
  });
});

interface ParsedHeader {
  command: number;
  family: number;
  source: string;
  sourcePort: number;
  destination: string;
  destinationPort: number;
  rest: Buffer;
}

/** Parses a v2 header the way a receiving server does (IPv4 and IPv6 TCP). */
function parseHeader(data: Buffer): ParsedHeader | null {
  if (data.length < 16) return null;
  if (!data.subarray(0, 12).equals(hex(SIG))) throw new Error(`no PROXY v2 signature: ${data.subarray(0, 12).toString('hex')}`);
  const length = data.readUInt16BE(14);
  if (data.length < 16 + length) return null;
  const family = data[13] as number;
  const addr = data.subarray(16, 16 + length);
  const ip = (b: Buffer): string => (b.length === 4 ? [...b].join('.') : (b.toString('hex').match(/.{4}/g) ?? []).join(':'));
  const size = family === 0x11 ? 4 : 16;
  return {
    command: data[12] as number,
    family,
    source: ip(addr.subarray(0, size)),
    destination: ip(addr.subarray(size, 2 * size)),
    sourcePort: addr.readUInt16BE(2 * size),
    destinationPort: addr.readUInt16BE(2 * size + 2),
    rest: data.subarray(16 + length),
  };
}

describe('proxy service with proxyProtocol: true', () => {
  async function run(gangway: Record<string, unknown>, headers: Record<string, string>): Promise<{ parsed: ParsedHeader; port: number; clientPort: number }> {
    let buffered = Buffer.alloc(0);
    let parsed: ParsedHeader | null = null;
    const backend = await tcpServer(res, (socket) => {
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        parsed ??= parseHeader(buffered);
      });
    });
    const gw = await startGateway(res, {
      gangway,
      services: [service('tcp', 'proxy', '/tcp', { connect: `tcp://127.0.0.1:${backend.port}`, properties: { proxyProtocol: true } })],
    });
    const ws = await openClient(res, gw.ws('/tcp'), undefined, { headers });
    const session = await onlySession(gw.gateway);
    ws.send('after the header');
    await waitFor(() => parsed !== null && parsed.rest.toString() === 'after the header', 5000, 'the header and the first bytes');
    return { parsed: parsed as unknown as ParsedHeader, port: gw.port, clientPort: session.endpoints.remotePort };
  }

  it('sends the header before any client byte, with the client and Gangway endpoints', async () => {
    const { parsed, port, clientPort } = await run({}, { 'X-Forwarded-For': '198.51.100.7' });
    expect(parsed.command).toBe(0x21);
    expect(parsed.family).toBe(0x11);
    // The peer is not a trusted proxy: its X-Forwarded-For is ignored.
    expect(parsed.source).toBe('127.0.0.1');
    expect(parsed.sourcePort).toBe(clientPort);
    expect(parsed.destination).toBe('127.0.0.1');
    expect(parsed.destinationPort).toBe(port);
  });

  it('carries the forwarded address when the peer is a trusted proxy', async () => {
    const { parsed } = await run({ trustedProxies: ['127.0.0.1'] }, { 'X-Forwarded-For': '198.51.100.7' });
    expect(parsed.family).toBe(0x11);
    expect(parsed.source).toBe('198.51.100.7');
  });

  it('switches to IPv6 for a forwarded IPv6 client', async () => {
    const { parsed } = await run({ trustedProxies: ['127.0.0.1'] }, { Forwarded: 'for="[2001:db8::1]:4711"' });
    expect(parsed.family).toBe(0x21);
    expect(parsed.source).toBe('2001:0db8:0000:0000:0000:0000:0000:0001');
    expect(parsed.destination).toBe('0000:0000:0000:0000:0000:ffff:7f00:0001');
    expect(net.isIPv6(parsed.source)).toBe(true);
  });
});
