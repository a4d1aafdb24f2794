import net from 'node:net';
import type { Session } from '../session';

/** The 12-byte signature that starts every PROXY protocol v2 header. */
const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function ipv6Bytes(address: string): Buffer {
  const out = Buffer.alloc(16);
  let text = address;
  const v4 = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4?.[1]) {
    const parts = v4[1].split('.').map(Number);
    text = `${text.slice(0, -v4[1].length)}${(((parts[0] as number) << 8) | (parts[1] as number)).toString(16)}:${(((parts[2] as number) << 8) | (parts[3] as number)).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g || '0', 16), i * 2));
  return out;
}

/**
 * A PROXY protocol v2 header (haproxy's spec, section 2.2) carrying the client's address and port
 * and the address Gangway accepted it on, so a back end that understands it sees the real client.
 * IPv4 when both ends are IPv4 (IPv4-mapped IPv6 counts), IPv6 otherwise; UNSPEC when either
 * is not an IP address.
 */
export function proxyHeaderV2(session: Pick<Session, 'remoteAddress' | 'endpoints'>): Buffer {
  const unmap = (a: string): string => (a.startsWith('::ffff:') && net.isIPv4(a.slice(7)) ? a.slice(7) : a);
  const src = unmap(session.remoteAddress);
  const dst = unmap(session.endpoints.localAddress);
  // An address that is not an IP (a peer the socket no longer knows): UNSPEC, no addresses, so
  // the back end uses the connection's own endpoints (spec section 2.2, "UNSPEC").
  if (net.isIP(src) === 0 || net.isIP(dst) === 0) return Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x00, 0x00, 0x00])]);
  const v4 = net.isIPv4(src) && net.isIPv4(dst);
  const addrLen = v4 ? 12 : 36;
  const out = Buffer.alloc(16 + addrLen);
  SIGNATURE.copy(out, 0);
  out[12] = 0x21; // version 2, PROXY
  out[13] = v4 ? 0x11 : 0x21; // TCP over IPv4 / IPv6
  out.writeUInt16BE(addrLen, 14);
  if (v4) {
    Buffer.from(src.split('.').map(Number)).copy(out, 16);
    Buffer.from(dst.split('.').map(Number)).copy(out, 20);
    out.writeUInt16BE(session.endpoints.remotePort, 24);
    out.writeUInt16BE(session.endpoints.localPort, 26);
  } else {
    ipv6Bytes(net.isIPv4(src) ? `::ffff:${src}` : src).copy(out, 16);
    ipv6Bytes(net.isIPv4(dst) ? `::ffff:${dst}` : dst).copy(out, 32);
    out.writeUInt16BE(session.endpoints.remotePort, 48);
    out.writeUInt16BE(session.endpoints.localPort, 50);
  }
  return out;
}
