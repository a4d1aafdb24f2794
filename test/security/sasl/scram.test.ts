/**
 * The SCRAM client against the test vectors of RFC 5802 §5 (SCRAM-SHA-1) and RFC 7677 §3
 * (SCRAM-SHA-256), then every way a server's message is refused.
 */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { SCRAM_DEFAULTS, ScramClient, ScramError, saslprep, scramCanPrepare, type ScramFailure, type ScramMechanism } from '../../../security/sasl/scram';
import { TestScramServer } from './server';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

/** The client and server messages of one exchange, as the RFC prints them. */
interface Vector {
  readonly mechanism: ScramMechanism;
  readonly nonce: string;
  readonly clientFirst: string;
  readonly serverFirst: string;
  readonly clientFinal: string;
  readonly serverFinal: string;
}

const RFC5802: Vector = {
  mechanism: 'SCRAM-SHA-1',
  nonce: 'fyko+d2lbbFgONRv9qkxdawL',
  clientFirst: 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL',
  serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
  clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
  serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
};

const RFC7677: Vector = {
  mechanism: 'SCRAM-SHA-256',
  nonce: 'rOprNGfwEbeRWgbNEkqO',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

/** Resolves with the ScramError `fn` throws or rejects with. */
async function scramError(fn: () => unknown): Promise<ScramError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ScramError) return err;
    throw err;
  }
  throw new Error('no ScramError was thrown');
}

async function expectFailure(fn: () => unknown, reason: ScramFailure, message: RegExp): Promise<void> {
  const err = await scramError(fn);
  expect(err.reason).toBe(reason);
  expect(err.message).toMatch(message);
  expect(err.message).not.toContain('pencil');
}

/** A client of `vector` that has sent its first message. */
function started(vector: Vector = RFC5802): ScramClient {
  const c = new ScramClient(vector.mechanism, 'user', 'pencil', { nonce: vector.nonce });
  c.clientFirst();
  return c;
}

describe.each([
  ['RFC 5802 §5', RFC5802],
  ['RFC 7677 §3', RFC7677],
])('%s test vector', (_name, vector) => {
  it(`${vector.mechanism}: client-first, client-final with the proof, and the server signature verified`, async () => {
    const c = new ScramClient(vector.mechanism, 'user', 'pencil', { nonce: vector.nonce });
    expect(c.clientFirst().toString()).toBe(vector.clientFirst);
    expect((await c.clientFinal(b(vector.serverFirst))).toString()).toBe(vector.clientFinal);
    expect(() => c.verifyServerFinal(b(vector.serverFinal))).not.toThrow();
  });

  it(`${vector.mechanism}: a server signature off by one bit is refused (signature)`, async () => {
    const c = started(vector);
    await c.clientFinal(b(vector.serverFirst));
    const signature = Buffer.from(vector.serverFinal.slice(2), 'base64');
    signature[0] = (signature[0] as number) ^ 1;
    await expectFailure(() => c.verifyServerFinal(b(`v=${signature.toString('base64')}`)), 'signature', /signature does not match/);
  });
});

describe('ScramClient', () => {
  it('makes a fresh random nonce per exchange, of nonceBytes bytes', () => {
    const first = (): string => new ScramClient('SCRAM-SHA-256', 'user', 'pencil').clientFirst().toString();
    const a = /^n,,n=user,r=([A-Za-z0-9+/=]+)$/.exec(first())?.[1] ?? '';
    const c = /^n,,n=user,r=([A-Za-z0-9+/=]+)$/.exec(first())?.[1] ?? '';
    expect(Buffer.from(a, 'base64')).toHaveLength(SCRAM_DEFAULTS.nonceBytes);
    expect(a).not.toBe(c);
  });

  it('escapes "=" and "," in the user name (saslname) and computes the proof over the escaped form', async () => {
    const c = new ScramClient('SCRAM-SHA-1', 'a=b,c', 'pencil', { nonce: 'abc' });
    expect(c.clientFirst().toString()).toBe('n,,n=a=3Db=2Cc,r=abc');
    const serverFirst = 'r=abcdef,s=QSXCR+Q6sek8bf92,i=4096';
    const final = (await c.clientFinal(b(serverFirst))).toString();
    // The same proof, computed here step by step from RFC 5802 §3.
    const salted = pbkdf2Sync('pencil', Buffer.from('QSXCR+Q6sek8bf92', 'base64'), 4096, 20, 'sha1');
    const clientKey = createHmac('sha1', salted).update('Client Key').digest();
    const auth = `n=a=3Db=2Cc,r=abc,${serverFirst},c=biws,r=abcdef`;
    const signature = createHmac('sha1', createHash('sha1').update(clientKey).digest()).update(auth).digest();
    const proof = Buffer.from(clientKey.map((x, i) => x ^ (signature[i] as number)));
    expect(final).toBe(`c=biws,r=abcdef,p=${proof.toString('base64')}`);
    const serverSignature = createHmac('sha1', createHmac('sha1', salted).update('Server Key').digest()).update(auth).digest();
    expect(() => c.verifyServerFinal(b(`v=${serverSignature.toString('base64')}`))).not.toThrow();
  });

  it.each([
    ['a nonce that does not extend the client nonce', 'r=other,s=QSXCR+Q6sek8bf92,i=4096', /nonce does not extend/],
    ['a nonce with a character outside printable', 'r=fyko+d2lbbFgONRv9qkxdawL\u00e9,s=QSXCR+Q6sek8bf92,i=4096', /nonce does not extend/],
    ['a mandatory extension', 'm=ext,r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=4096', /requires a SCRAM extension/],
    ['attributes out of order', 's=QSXCR+Q6sek8bf92,r=fyko+d2lbbFgONRv9qkxdawLx,i=4096', /does not start with r=, s=, i=/],
    ['a missing iteration count', 'r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92', /does not start with r=, s=, i=/],
    ['a salt that is not base64', 'r=fyko+d2lbbFgONRv9qkxdawLx,s=not base64!,i=4096', /salt is not base64/],
    ['an empty salt', 'r=fyko+d2lbbFgONRv9qkxdawLx,s=,i=4096', /salt is not base64/],
    ['an iteration count that is not a number', 'r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=4e3', /not a positive number/],
    ['a zero iteration count', 'r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=0', /not a positive number/],
    ['too few iterations', 'r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=4095', /4095 iterations, outside 4096\.\.600000/],
    ['too many iterations', 'r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=600001', /600001 iterations, outside/],
    ['no attributes at all', 'garbage', /malformed/],
  ])('refuses a server-first message with %s (message)', async (_what, serverFirst, message) => {
    await expectFailure(() => started().clientFinal(b(serverFirst)), 'message', message);
  });

  it('ignores extensions after the iteration count', async () => {
    const c = started();
    expect((await c.clientFinal(b(`${RFC5802.serverFirst},x=future`))).toString()).toMatch(/^c=biws,r=fyko\+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=/);
  });

  it('takes iteration limits from its options', async () => {
    const c = new ScramClient('SCRAM-SHA-1', 'user', 'pencil', { nonce: RFC5802.nonce, limits: { maxIterations: 1000, minIterations: 1 } });
    c.clientFirst();
    await expectFailure(() => c.clientFinal(b(RFC5802.serverFirst)), 'message', /4096 iterations, outside 1\.\.1000/);
  });

  it.each([
    ['a server error', 'e=invalid-proof', /reported a SCRAM error: invalid-proof/],
    ['no signature', 'x=1', /carries no signature/],
    ['a signature that is not base64', 'v=***', /signature is not base64/],
    ['an empty message', '', /malformed/],
  ])('refuses a server-final message with %s (message)', async (_what, serverFinal, message) => {
    const c = started();
    await c.clientFinal(b(RFC5802.serverFirst));
    await expectFailure(() => c.verifyServerFinal(b(serverFinal)), 'message', message);
  });

  it('refuses a signature of the wrong length and one from the other mechanism (signature)', async () => {
    const c = started();
    await c.clientFinal(b(RFC5802.serverFirst));
    await expectFailure(() => c.verifyServerFinal(b('v=AAAA')), 'signature', /does not match/);
    const d = started();
    await d.clientFinal(b(RFC5802.serverFirst));
    await expectFailure(() => d.verifyServerFinal(b(RFC7677.serverFinal)), 'signature', /does not match/);
  });

  it('refuses messages out of order', async () => {
    const c = new ScramClient('SCRAM-SHA-1', 'user', 'pencil', { nonce: RFC5802.nonce });
    await expectFailure(() => c.clientFinal(b(RFC5802.serverFirst)), 'message', /out of order/);
    await expectFailure(() => c.verifyServerFinal(b(RFC5802.serverFinal)), 'message', /out of order/);
    c.clientFirst();
    await expectFailure(() => c.clientFirst(), 'message', /already sent/);
    await expectFailure(() => c.verifyServerFinal(b(RFC5802.serverFinal)), 'message', /out of order/);
    await c.clientFinal(b(RFC5802.serverFirst));
    await expectFailure(() => c.clientFinal(b(RFC5802.serverFirst)), 'message', /out of order/);
    c.verifyServerFinal(b(RFC5802.serverFinal));
    await expectFailure(() => c.verifyServerFinal(b(RFC5802.serverFinal)), 'message', /out of order/);
  });

  it('refuses a nonce with a comma', () => {
    expect(() => new ScramClient('SCRAM-SHA-1', 'user', 'pencil', { nonce: 'a,b' })).toThrow(RangeError);
  });
});

describe('saslprep', () => {
  it('is the identity on printable ASCII, space included', () => {
    expect(saslprep('user', 'user name')).toBe('user');
    expect(saslprep(' p@ss w0rd~!', 'password')).toBe(' p@ss w0rd~!');
    expect(scramCanPrepare('user', 'pencil')).toBe(true);
  });

  it.each([
    ['a non-ASCII letter', 'p\u00e4ss', /other than printable ASCII/],
    ['a soft hyphen (mapped to nothing by RFC 4013)', 'pa\u00adss', /other than printable ASCII/],
    ['a non-ASCII space', 'pa\u00a0ss', /other than printable ASCII/],
    ['a control character', 'pa\tss', /other than printable ASCII/],
    ['DEL', 'pa\u007fss', /other than printable ASCII/],
    ['nothing', '', /is empty/],
  ])('refuses %s rather than normalise it differently from the server (credential)', async (_what, value, message) => {
    await expectFailure(() => saslprep(value, 'password'), 'credential', message);
    expect(scramCanPrepare('user', value)).toBe(false);
    expect(scramCanPrepare(value, 'pencil')).toBe(false);
    await expectFailure(() => new ScramClient('SCRAM-SHA-256', 'user', value), 'credential', message);
  });
});

describe('against a server written from the RFC', () => {
  it.each([
    ['SCRAM-SHA-256', 'sha256'],
    ['SCRAM-SHA-1', 'sha1'],
  ] as const)('%s with a random nonce: the server accepts the proof and the client its signature', async (mechanism, hash) => {
    const server = new TestScramServer(hash, 'p@ss w0rd,=x', { iterations: 10_000 });
    const c = new ScramClient(mechanism, 'al,i=ce', 'p@ss w0rd,=x');
    const serverFirst = server.first(c.clientFirst().toString());
    const serverFinal = server.final((await c.clientFinal(b(serverFirst))).toString());
    expect(server.username).toBe('al,i=ce');
    expect(server.proofOk).toBe(true);
    expect(() => c.verifyServerFinal(b(serverFinal))).not.toThrow();
  });

  it('a server that holds another password: its proof check fails and so does the signature', async () => {
    const server = new TestScramServer('sha256', 'other');
    const c = new ScramClient('SCRAM-SHA-256', 'user', 'pencil');
    const serverFinal = server.final((await c.clientFinal(b(server.first(c.clientFirst().toString())))).toString());
    expect(server.proofOk).toBe(false);
    await expectFailure(() => c.verifyServerFinal(b(serverFinal)), 'signature', /does not match/);
  });
});
