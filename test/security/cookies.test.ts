import { randomBytes } from 'node:crypto';
import { CookieCodec, SECURITY_DEFAULTS, type CookieSettings } from '../../security';

const settings: CookieSettings = { name: 'gw', ttlSeconds: 600, sameSite: 'Strict', secure: true, path: '/' };
const k1 = { id: 'k1', secret: randomBytes(32) };
const k2 = { id: 'k2', secret: randomBytes(32) };
const alice = { realm: 'corp', user: 'alice', roles: ['trader', 'ops'] };

describe('encrypted session cookies', () => {
  it('seals and opens a subject; the value hides it', () => {
    const c = new CookieCodec([k1], settings);
    const v = c.seal(alice);
    expect(v).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+$/);
    expect(Buffer.from(v.split('.')[2], 'base64url').toString('latin1')).not.toContain('alice');
    expect(c.open(v)).toEqual(alice);
  });

  it('uses a fresh 96-bit nonce for every cookie', () => {
    const c = new CookieCodec([k1], settings);
    const nonces = new Set<string>();
    for (let i = 0; i < 50; i++) nonces.add(Buffer.from(c.seal(alice).split('.')[2], 'base64url').subarray(0, 12).toString('hex'));
    expect(nonces.size).toBe(50);
  });

  it('refuses any change to the value: every byte of the sealed part, the key id, the version', () => {
    const c = new CookieCodec([k1, k2], settings);
    const v = c.seal(alice);
    const [ver, kid, body] = v.split('.');
    const raw = Buffer.from(body, 'base64url');
    for (let i = 0; i < raw.length; i++) {
      const t = Buffer.from(raw);
      t[i] ^= 0x01;
      expect(c.open(`${ver}.${kid}.${t.toString('base64url')}`)).toBeNull();
    }
    expect(c.open(`${ver}.k2.${body}`)).toBeNull();
    expect(c.open(`v2.${kid}.${body}`)).toBeNull();
    expect(c.open(`${ver}.${kid}.${raw.subarray(0, raw.length - 1).toString('base64url')}`)).toBeNull();
    expect(c.open('garbage')).toBeNull();
    expect(c.open(`${ver}.${kid}.${'A'.repeat(SECURITY_DEFAULTS.maxCookieBytes)}`)).toBeNull();
  });

  it('rotates keys: new cookies use the first key, older keys still open until removed', () => {
    const before = new CookieCodec([k1], settings);
    const old = before.seal(alice);
    const during = new CookieCodec([k2, k1], settings);
    expect(during.seal(alice).startsWith('v1.k2.')).toBe(true);
    expect(during.open(old)).toEqual(alice);
    const after = new CookieCodec([k2], settings);
    expect(after.open(old)).toBeNull();
    expect(after.open(during.seal(alice))).toEqual(alice);
  });

  it('expires inside the token, at ttlSeconds or with the credential, whichever is first', () => {
    let now = 1_700_000_000_000;
    const c = new CookieCodec([k1], settings, () => now);
    const v = c.seal(alice);
    now += 599_000;
    expect(c.open(v)).toEqual(alice);
    now += 1_000;
    expect(c.open(v)).toBeNull();
    now = 1_700_000_000_000;
    const withCredential = c.seal({ ...alice, expiresAt: now + 60_000 });
    expect(c.open(withCredential)).toEqual({ ...alice, expiresAt: now + 60_000 });
    now += 60_000;
    expect(c.open(withCredential)).toBeNull();
  });

  it('writes Secure, HttpOnly and SameSite attributes, and finds its cookie among others', () => {
    const c = new CookieCodec([k1], settings);
    expect(c.setCookieHeader('v')).toBe('gw=v; Path=/; Max-Age=600; HttpOnly; Secure; SameSite=Strict');
    const none = new CookieCodec([k1], { ...settings, sameSite: 'None', secure: false });
    expect(none.setCookieHeader('v')).toContain('; Secure; SameSite=None');
    const lax = new CookieCodec([k1], { ...settings, sameSite: 'Lax', secure: false });
    expect(lax.setCookieHeader('v')).toBe('gw=v; Path=/; Max-Age=600; HttpOnly; SameSite=Lax');
    expect(c.readFrom('a=1; gw=abc.def; b=2')).toBe('abc.def');
    expect(c.readFrom('gwx=1')).toBeUndefined();
  });

  it('refuses bad key rings', () => {
    expect(() => new CookieCodec([], settings)).toThrow('empty');
    expect(() => new CookieCodec([{ id: 'x', secret: randomBytes(16) }], settings)).toThrow('32 bytes');
    expect(() => new CookieCodec([k1, k1], settings)).toThrow('twice');
  });
});
