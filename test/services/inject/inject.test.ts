/**
 * Credential injection without back ends: the `inject` schema, the per-session injector (lookup,
 * timeout, plaintext policy), and the frames each protocol proxy rewrites, decoded again by the
 * protocol's own validator.
 */
import { z } from 'zod';
import { INJECT_ERRORS, InjectionError, Injector } from '../../../src/services/inject/injector';
import { credentialSourceFor, injectSchema, NO_CREDENTIALS, type Credential, type CredentialSource } from '../../../src/services/inject/types';
import { amqplainResponse, saslInitPlain, saslOutcome, startOkWith } from '../../../src/services/wire/amqp';
import { withCredential } from '../../../src/services/wire/stomp';
import { plainAuth, plainOnlyFeatures } from '../../../src/services/inject/xmpp-sasl';
import { protocol as amqp091, type Amqp091Frame } from '../../../validators/amqp091';
import { protocol as amqp10, type Amqp10Frame } from '../../../validators/amqp10';
import { StompCodecPair } from '../../../validators/stomp';

const CRED: Credential = { username: 'svc-user', password: 'p@ss:w0rd é' };

function injector(source: CredentialSource, extra: Partial<z.input<typeof injectSchema>> = {}, user: string | null = null): Injector {
  const props = injectSchema.parse({ source: 'keyring', ...extra });
  return new Injector('stomp', props, source, 'svc', user);
}

describe('inject schema', () => {
  it('needs username and password with source service, refuses them with keyring', () => {
    expect(injectSchema.safeParse({ source: 'service', username: 'u' }).success).toBe(false);
    expect(injectSchema.safeParse({ source: 'keyring', password: 'p' }).success).toBe(false);
    expect(injectSchema.safeParse({ source: 'service', username: 'u', password: 'p', extra: 1 }).success).toBe(false);
    const ok = injectSchema.parse({ source: 'service', username: 'u', password: 'p' });
    expect(ok.allowPlaintextCredentials).toBe(false);
    expect(ok.lookupTimeoutMs).toBe(5000);
  });

  it('source service answers its own credential; keyring asks the keyring', async () => {
    const keyring: CredentialSource = { lookup: (user, svc) => Promise.resolve(user === 'alice' && svc === 'svc' ? CRED : null) };
    const service = credentialSourceFor(injectSchema.parse({ source: 'service', username: 'u', password: 'p' }), keyring);
    expect(await service.lookup('anyone', 'svc')).toEqual({ username: 'u', password: 'p' });
    expect(await credentialSourceFor(injectSchema.parse({ source: 'keyring' }), keyring).lookup('alice', 'svc')).toBe(CRED);
    expect(await credentialSourceFor(injectSchema.parse({ source: 'keyring' }), NO_CREDENTIALS).lookup('alice', 'svc')).toBeNull();
  });

  it('keyringEntry names the keyring entry, and only with source keyring', () => {
    expect(injectSchema.parse({ source: 'keyring', keyringEntry: 'rabbit' }).keyringEntry).toBe('rabbit');
    expect(injectSchema.safeParse({ source: 'service', username: 'u', password: 'p', keyringEntry: 'rabbit' }).success).toBe(false);
    expect(injectSchema.safeParse({ source: 'keyring', keyringEntry: '../x' }).success).toBe(false);
  });
});

describe('Injector', () => {
  it('looks up the session user once and hands the credential out on a secure link', async () => {
    const seen: (string | null)[] = [];
    const inj = injector({ lookup: (user) => (seen.push(user), Promise.resolve(CRED)) }, {}, 'alice');
    await inj.load();
    await inj.load();
    expect(seen).toEqual(['alice']);
    expect(inj.take(true)).toBe(CRED);
  });

  it('refuses a plaintext link unless allowPlaintextCredentials', async () => {
    const inj = injector({ lookup: () => Promise.resolve(CRED) });
    await inj.load();
    expect(() => inj.take(false)).toThrow(InjectionError);
    try {
      inj.take(false);
    } catch (err) {
      expect((err as InjectionError).code).toBe(INJECT_ERRORS.PLAINTEXT_LINK.code);
      expect((err as InjectionError).closeCode).toBe(1008);
      expect((err as InjectionError).message).not.toContain(CRED.password);
    }
    const allowed = injector({ lookup: () => Promise.resolve(CRED) }, { allowPlaintextCredentials: true });
    await allowed.load();
    expect(allowed.take(false)).toBe(CRED);
  });

  it.each([
    ['no credential', NO_CREDENTIALS, INJECT_ERRORS.NO_CREDENTIAL.code],
    ['a failing store', { lookup: () => Promise.reject(new Error('store down')) }, INJECT_ERRORS.LOOKUP_FAILED.code],
    ['a credential with CR LF', { lookup: () => Promise.resolve({ username: 'u', password: 'a\r\nQUIT' }) }, INJECT_ERRORS.BAD_CREDENTIAL.code],
  ])('%s: load settles, take throws %s', async (_name, source, code) => {
    const inj = injector(source as CredentialSource);
    await inj.load();
    expect(() => inj.take(true)).toThrow(expect.objectContaining({ code }) as Error);
  });

  it('a lookup slower than lookupTimeoutMs fails with LOOKUP_FAILED', async () => {
    const inj = injector({ lookup: () => new Promise(() => undefined) }, { lookupTimeoutMs: 20 });
    await inj.load();
    expect(() => inj.take(true)).toThrow(expect.objectContaining({ code: INJECT_ERRORS.LOOKUP_FAILED.code }) as Error);
  });
});

describe('STOMP CONNECT rewrite', () => {
  it('drops the client login/passcode, keeps other headers, and the result validates', () => {
    const pair = new StompCodecPair();
    const [frame] = pair.toServer.push(Buffer.from('CONNECT\naccept-version:1.2\nhost:/\nlogin:mallory\npasscode:x\nheart-beat:0,0\n\n\0'));
    const out = withCredential(frame!, CRED);
    const [again] = new StompCodecPair().toServer.push(out);
    expect(again!.headers).toEqual([
      ['accept-version', '1.2'],
      ['host', '/'],
      ['heart-beat', '0,0'],
      ['login', CRED.username],
      ['passcode', CRED.password],
    ]);
  });
});

describe('AMQP rewrites', () => {
  /** A client Start-Ok as amqplib writes it, taken from the validator. */
  function clientStartOk(mechanism: string, response: Buffer): Amqp091Frame {
    const shortstr = (t: string): Buffer => Buffer.concat([Buffer.from([Buffer.byteLength(t)]), Buffer.from(t)]);
    const long = (b: Buffer): Buffer => {
      const h = Buffer.alloc(4);
      h.writeUInt32BE(b.length);
      return Buffer.concat([h, b]);
    };
    const table = Buffer.concat([shortstr('product'), Buffer.from('S'), long(Buffer.from('test'))]);
    const payload = Buffer.concat([Buffer.from([0, 10, 0, 11]), long(table), shortstr(mechanism), long(response), shortstr('en_US')]);
    const head = Buffer.alloc(7);
    head[0] = 1;
    head.writeUInt32BE(payload.length, 3);
    const pair = amqp091.createPair();
    pair.toServer.push(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
    const [f] = pair.toServer.push(Buffer.concat([head, payload, Buffer.from([0xce])]));
    return f as Amqp091Frame;
  }

  it.each(['PLAIN', 'AMQPLAIN'] as const)('Start-Ok re-encoded with %s validates and carries the credential', (mechanism) => {
    const original = clientStartOk('PLAIN', Buffer.from('\0x\0wrong-and-much-longer-than-the-new-one'));
    const out = startOkWith(original.raw, mechanism, CRED);
    expect(out.readUInt32BE(3)).toBe(out.length - 8);
    const pair = amqp091.createPair();
    pair.toServer.push(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
    const [f] = pair.toServer.push(out) as Amqp091Frame[];
    if (f?.type !== 'method') throw new Error('expected a method frame');
    expect(f.kind).toBe('connection.start-ok');
    expect(f.args['mechanism']).toBe(mechanism);
    const response = Buffer.from(f.args['response'] as Buffer | string);
    expect(response).toEqual(mechanism === 'PLAIN' ? Buffer.from(`\0${CRED.username}\0${CRED.password}`) : amqplainResponse(CRED));
    expect(f.args['locale']).toBe('en_US');
    expect(JSON.stringify(f.args['clientProperties'])).toContain('test');
  });

  it('sasl-init PLAIN and sasl-outcome validate as AMQP 1.0 SASL frames', () => {
    const pair = amqp10.createPair();
    pair.toServer.push(Buffer.from('AMQP\x03\x01\x00\x00', 'latin1'));
    pair.toClient.push(Buffer.from('AMQP\x03\x01\x00\x00', 'latin1'));
    const [init] = pair.toServer.push(saslInitPlain(CRED, 'localhost')) as Amqp10Frame[];
    if (init?.kind !== 'sasl-init' || !('fields' in init)) throw new Error('expected sasl-init');
    expect(init.fields['mechanism']).toBe('PLAIN');
    expect(Buffer.from(init.fields['initialResponse'] as Buffer)).toEqual(Buffer.from(`\0${CRED.username}\0${CRED.password}`));
    expect(init.fields['hostname']).toBe('localhost');
    // sasl-mechanisms [PLAIN] first: the validator holds the server to the SASL order.
    const mechanisms = Buffer.from('0000001502010000005340c00801a305504c41494e', 'hex');
    pair.toClient.push(mechanisms);
    const [outcome] = pair.toClient.push(saslOutcome(1)) as Amqp10Frame[];
    if (outcome?.kind !== 'sasl-outcome' || !('fields' in outcome)) throw new Error('expected sasl-outcome');
    expect(outcome.fields['code']).toBe(1);
  });
});

describe('XMPP rewrites', () => {
  it('offers the client PLAIN only, whatever the server offers (Gangway logs in for it)', () => {
    const features = Buffer.from(
      '<features xmlns="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></features>',
    );
    expect(plainOnlyFeatures(features).toString()).toBe(
      '<features xmlns="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></features>',
    );
    expect(plainOnlyFeatures(Buffer.from(features.toString().replace('<mechanism>PLAIN</mechanism>', ''))).toString()).toBe(
      '<features xmlns="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></features>',
    );
    const bind = Buffer.from('<features xmlns="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></features>');
    expect(plainOnlyFeatures(bind)).toBe(bind);
  });

  it('builds <auth mechanism="PLAIN"> with the RFC 4616 message', () => {
    const auth = plainAuth(CRED.username, CRED.password).toString();
    const b64 = /<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>([^<]+)<\/auth>/.exec(auth)?.[1] ?? '';
    expect(Buffer.from(b64, 'base64').toString('utf8')).toBe(`\0${CRED.username}\0${CRED.password}`);
  });
});
