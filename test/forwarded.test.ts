import type { IncomingHttpHeaders } from 'node:http';
import { TrustedProxies, clientAddress } from '../src/forwarded';

const address = (peer: string, headers: IncomingHttpHeaders, trusted: readonly string[]): string => clientAddress(peer, headers, new TrustedProxies(trusted));

describe('TrustedProxies', () => {
  it('matches single addresses, CIDR ranges and IPv4-mapped peers', () => {
    const t = new TrustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8', '::1']);
    expect(t.trusts('127.0.0.1')).toBe(true);
    expect(t.trusts('::ffff:127.0.0.1')).toBe(true);
    expect(t.trusts('10.200.3.4')).toBe(true);
    expect(t.trusts('11.0.0.1')).toBe(false);
    expect(t.trusts('fd12::5')).toBe(true);
    expect(t.trusts('::1')).toBe(true);
    expect(t.trusts('2001:db8::1')).toBe(false);
  });

  it('trusts nobody when empty', () => {
    expect(new TrustedProxies([]).trusts('127.0.0.1')).toBe(false);
  });
});

describe('clientAddress', () => {
  it('ignores forwarding headers from a peer that is not trusted', () => {
    const headers = { 'x-forwarded-for': '198.51.100.7', forwarded: 'for=198.51.100.8' };
    expect(address('203.0.113.5', headers, ['127.0.0.1'])).toBe('203.0.113.5');
    expect(address('127.0.0.1', headers, [])).toBe('127.0.0.1');
  });

  it('takes the forwarded address from a trusted peer', () => {
    expect(address('127.0.0.1', { 'x-forwarded-for': '198.51.100.7' }, ['127.0.0.1'])).toBe('198.51.100.7');
    expect(address('::ffff:127.0.0.1', { 'x-forwarded-for': '198.51.100.7' }, ['127.0.0.1'])).toBe('198.51.100.7');
  });

  it('walks a chain of trusted hops from the nearest and stops at the first untrusted one', () => {
    const trusted = ['10.0.0.0/8'];
    // client → (spoofed entry) → 203.0.113.9 → 10.0.0.5 → 10.0.0.7 → Gangway (peer 10.0.0.1)
    const headers = { 'x-forwarded-for': '192.0.2.66, 203.0.113.9, 10.0.0.5 , 10.0.0.7' };
    expect(address('10.0.0.1', headers, trusted)).toBe('203.0.113.9');
  });

  it('gives the farthest hop when every hop is trusted', () => {
    expect(address('10.0.0.1', { 'x-forwarded-for': '10.1.1.1, 10.2.2.2' }, ['10.0.0.0/8'])).toBe('10.1.1.1');
  });

  it('reads RFC 7239 Forwarded, IPv6 in brackets with a port, before X-Forwarded-For', () => {
    const headers = { forwarded: 'for="[2001:db8::1]:4711";proto=https', 'x-forwarded-for': '198.51.100.7' };
    expect(address('127.0.0.1', headers, ['127.0.0.1'])).toBe('2001:db8::1');
  });

  it('reads Forwarded lists, IPv4 with a port, any case', () => {
    const headers = { forwarded: 'For=192.0.2.60:8080;proto=http;by=203.0.113.43, for="[::1]"' };
    expect(address('127.0.0.1', headers, ['127.0.0.1', '::1'])).toBe('192.0.2.60');
  });

  it.each([
    ['x-forwarded-for', 'not-an-address'],
    ['x-forwarded-for', '198.51.100.7, garbage'],
    ['x-forwarded-for', '999.1.1.1'],
    ['forwarded', 'for=unknown'],
    ['forwarded', 'for=_hidden'],
    ['forwarded', 'for="[2001:db8::1"'],
    ['forwarded', 'for="[garbage]:80"'],
  ])('falls back to the peer for garbage (%s: %s)', (name, value) => {
    expect(address('127.0.0.1', { [name]: value }, ['127.0.0.1'])).toBe('127.0.0.1');
  });

  it('falls back to the peer when a trusted peer sends no chain', () => {
    expect(address('127.0.0.1', {}, ['127.0.0.1'])).toBe('127.0.0.1');
    expect(address('127.0.0.1', { 'x-forwarded-for': ' , ' }, ['127.0.0.1'])).toBe('127.0.0.1');
  });
});
