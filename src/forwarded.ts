import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';

/** Matches addresses against the configured trusted reverse proxies. */
export class TrustedProxies {
  private readonly list = new net.BlockList();
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    this.empty = entries.length === 0;
    for (const entry of entries) {
      const [addr = '', bits] = entry.split('/');
      const family = net.isIPv6(addr) ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.list.addAddress(addr, family);
      else this.list.addSubnet(addr, Number(bits), family);
    }
  }

  trusts(address: string): boolean {
    if (this.empty) return false;
    const plain = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
    return this.list.check(plain, net.isIPv6(plain) ? 'ipv6' : 'ipv4');
  }
}

/** Addresses a request passed through, nearest last: RFC 7239 `Forwarded: for=`, else `X-Forwarded-For`. */
function forwardedChain(headers: IncomingHttpHeaders): string[] {
  const forwarded = headers.forwarded;
  if (forwarded) {
    const out: string[] = [];
    for (const element of forwarded.split(',')) {
      const m = element.match(/(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]*)/i);
      if (!m?.[1]) continue;
      let v = m[1].replace(/^"|"$/g, '');
      // An unclosed bracket is garbage, not an address (slicing to -1 would invent one).
      if (v.startsWith('[')) v = v.includes(']') ? v.slice(1, v.indexOf(']')) : v;
      else if (net.isIPv4(v.split(':')[0] ?? '') && v.includes(':')) v = v.split(':')[0] as string;
      out.push(v);
    }
    return out;
  }
  const xff = headers['x-forwarded-for'];
  const text = Array.isArray(xff) ? xff.join(',') : (xff ?? '');
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The client's address: the socket's peer, unless that peer is a trusted proxy, in which case the
 * nearest address in the forwarding chain that is not itself a trusted proxy. Untrusted peers'
 * forwarding headers are ignored, so a client cannot choose its own address.
 */
export function clientAddress(peer: string, headers: IncomingHttpHeaders, trusted: TrustedProxies): string {
  if (!trusted.trusts(peer)) return peer;
  const chain = forwardedChain(headers);
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = chain[i] as string;
    if (net.isIP(hop) === 0) return peer;
    if (!trusted.trusts(hop)) return hop;
  }
  return chain[0] ?? peer;
}
