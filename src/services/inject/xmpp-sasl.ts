/**
 * XMPP SASL (RFC 6120 §6) performed by Gangway toward the server with the injected credential.
 * The client is offered PLAIN only and holds no password: its `<auth/>` is replaced by Gangway's
 * own, with the strongest mechanism both the server offers and the service allows —
 * SCRAM-SHA-256, SCRAM-SHA-1 (RFC 5802, RFC 7677; security/sasl/scram.ts), then PLAIN (RFC 4616).
 * With SCRAM, Gangway answers the server's challenges itself and passes `<success/>` to the client
 * only after the server's signature verified; the server's `<failure/>` reaches the client as is.
 */
import { NS_SASL, type XmppFrame } from '../../../validators/xmpp';
import { SCRAM_MECHANISMS, ScramClient, ScramError, scramCanPrepare } from '../../../security/sasl/scram';
import { INJECT_ERRORS, InjectionError } from './injector';
import type { Credential } from './types';
import { plainResponse } from '../wire/amqp';

/** SASL mechanisms Gangway logs in to an XMPP server with, strongest first. */
export const XMPP_SASL_MECHANISMS = [...SCRAM_MECHANISMS, 'PLAIN'] as const;

/** One of {@link XMPP_SASL_MECHANISMS}. */
export type XmppSaslMechanism = (typeof XMPP_SASL_MECHANISMS)[number];

const MECHANISMS = /(<mechanisms\b[^>]*>)([\s\S]*?)(<\/mechanisms>)/;
const MECHANISM = /<mechanism(?:\s[^>]*)?>\s*([^<\s]*)\s*<\/mechanism>/g;

/** The SASL mechanisms `<features>` offers, in its order; `null` when it offers no SASL. */
export function offeredMechanisms(features: Buffer): string[] | null {
  const m = MECHANISMS.exec(features.toString('utf8'));
  if (!m) return null;
  return [...(m[2] as string).matchAll(MECHANISM)].map((x) => x[1] as string);
}

/**
 * Features as the client sees them when Gangway logs in for it: SASL offers PLAIN only (the
 * client's `<auth/>` is replaced whatever it holds); the features unchanged when they offer no SASL.
 */
export function plainOnlyFeatures(features: Buffer): Buffer {
  const text = features.toString('utf8');
  if (!MECHANISMS.test(text)) return features;
  return Buffer.from(text.replace(MECHANISMS, '$1<mechanism>PLAIN</mechanism>$3'), 'utf8');
}

/**
 * The strongest of `allowed` that the server `offered` and that can carry `credential`: SCRAM
 * needs a user name and password that SASLprep leaves as they are (printable ASCII, see
 * security/sasl/README.md); PLAIN carries any. `null` when none fits.
 */
export function chooseMechanism(offered: readonly string[], allowed: readonly XmppSaslMechanism[], credential: Credential): XmppSaslMechanism | null {
  for (const mechanism of XMPP_SASL_MECHANISMS) {
    if (!allowed.includes(mechanism) || !offered.includes(mechanism)) continue;
    if (mechanism !== 'PLAIN' && !scramCanPrepare(credential.username, credential.password)) continue;
    return mechanism;
  }
  return null;
}

function auth(mechanism: XmppSaslMechanism, message: Buffer): Buffer {
  return Buffer.from(`<auth xmlns='${NS_SASL}' mechanism='${mechanism}'>${message.toString('base64')}</auth>`, 'utf8');
}

/** SASL `<auth/>` with mechanism PLAIN (RFC 6120 §6.4.2, RFC 4616) carrying the credential. */
export function plainAuth(username: string, password: string): Buffer {
  return auth('PLAIN', plainResponse({ username, password }));
}

/** SASL `<response/>` (RFC 6120 §6.4.3); empty when `message` is. */
function response(message: Buffer): Buffer {
  if (message.length === 0) return Buffer.from(`<response xmlns='${NS_SASL}'/>`, 'utf8');
  return Buffer.from(`<response xmlns='${NS_SASL}'>${message.toString('base64')}</response>`, 'utf8');
}

/** What the client gets for the server's `<success/>` of a SCRAM login: no additional data. */
const SUCCESS_TO_CLIENT = Buffer.from(`<success xmlns="${NS_SASL}"/>`, 'utf8');

const START_TAG = /^<[^\s/>]+(?:\s+[^\s=]+\s*=\s*(?:'[^']*'|"[^"]*"))*\s*(\/?)>/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The data of a validated `<challenge/>` or `<success/>`: its base64 text decoded; empty for an
 * empty element or `=` (RFC 6120 §6.4.2).
 * @throws InjectionError SASL_EXCHANGE when the content is not base64.
 */
function saslData(frame: XmppFrame): Buffer {
  const text = frame.raw.toString('utf8');
  const tag = START_TAG.exec(text);
  if (tag === null) throw exchangeError(`<${frame.localName}/> has a start tag Gangway cannot read`);
  if (tag[1] === '/') return Buffer.alloc(0);
  const body = text.slice(tag[0].length, text.lastIndexOf('</')).trim();
  if (body === '' || body === '=') return Buffer.alloc(0);
  if (!BASE64.test(body)) throw exchangeError(`<${frame.localName}/> does not hold base64`);
  return Buffer.from(body, 'base64');
}

function exchangeError(message: string): InjectionError {
  return new InjectionError('xmpp', INJECT_ERRORS.SASL_EXCHANGE, `the XMPP server broke the SASL exchange: ${message}`);
}

/** A SCRAM failure as the injection error the client is refused with. */
function scramFailure(err: ScramError): InjectionError {
  switch (err.reason) {
    case 'signature':
      return new InjectionError('xmpp', INJECT_ERRORS.SERVER_SIGNATURE, `the XMPP server failed SCRAM verification: ${err.message}`, { cause: err });
    case 'message':
      return new InjectionError('xmpp', INJECT_ERRORS.SASL_EXCHANGE, `the XMPP server broke the SASL exchange: ${err.message}`, { cause: err });
    case 'credential':
      return new InjectionError('xmpp', INJECT_ERRORS.UNSUPPORTED_LOGIN, `the stored credential cannot be used with SCRAM: ${err.message}`, { cause: err });
  }
}

/**
 * Where Gangway's login stands: `idle` (none running, or PLAIN, whose answer the client gets as
 * is), or SCRAM waiting for the server-first challenge, computing the proof, waiting for the
 * server-final data, or verified (server-final came in a challenge; `<success/>` is next).
 */
type LoginState = 'idle' | 'first' | 'computing' | 'final' | 'verified';

/** What becomes of a server SASL element: to the client as translated, not at all, or as this. */
export type SaslVerdict = 'pass' | 'drop' | Buffer;

/** What {@link XmppSaslLogin} needs of the session's link to the server. */
export interface SaslLink {
  /** Writes bytes to the server. */
  write(data: Buffer): void;
  /** Refuses the session with `err` (the client gets the stream error). */
  refuse(err: InjectionError): void;
}

/**
 * One session's SASL login performed by Gangway: the mechanism chosen from the server's features,
 * the `<auth/>` sent for the client's, and the server's SCRAM challenges answered.
 */
export class XmppSaslLogin {
  private mechanism: XmppSaslMechanism | null = null;
  private state: LoginState = 'idle';
  private scram: ScramClient | null = null;

  constructor(
    /** Mechanisms the service allows (`saslMechanisms`). */
    private readonly allowed: readonly XmppSaslMechanism[],
    private readonly link: SaslLink,
  ) {}

  /**
   * The server's translated `<features>` with the credential at hand: picks the mechanism and
   * answers the features for the client (SASL PLAIN only).
   * @throws InjectionError UNSUPPORTED_LOGIN when no allowed mechanism is offered and usable.
   */
  features(features: Buffer, credential: Credential): Buffer {
    const offered = offeredMechanisms(features);
    if (offered === null) return features;
    const mechanism = chooseMechanism(offered, this.allowed, credential);
    if (mechanism === null) {
      const scramBlocked = offered.some((m) => m !== 'PLAIN' && this.allowed.includes(m as XmppSaslMechanism));
      const why = scramBlocked && !scramCanPrepare(credential.username, credential.password) ? '; SCRAM needs a user name and password of printable ASCII' : '';
      throw new InjectionError(
        'xmpp',
        INJECT_ERRORS.UNSUPPORTED_LOGIN,
        `the XMPP server offers ${offered.join(', ') || 'no mechanism'}, Gangway may use ${this.allowed.join(', ')}${why}; it cannot log in for the client`,
      );
    }
    this.mechanism = mechanism;
    return plainOnlyFeatures(features);
  }

  /**
   * The `<auth/>` that replaces the client's: PLAIN with the credential, or the SCRAM
   * client-first message (Gangway then answers the challenges).
   * @throws InjectionError UNSUPPORTED_LOGIN when the server has offered no mechanism yet.
   */
  auth(credential: Credential): Buffer {
    const mechanism = this.mechanism;
    if (mechanism === null) throw new InjectionError('xmpp', INJECT_ERRORS.UNSUPPORTED_LOGIN, 'the client sent <auth/> before the XMPP server offered SASL mechanisms');
    if (mechanism === 'PLAIN') {
      this.state = 'idle';
      this.scram = null;
      return plainAuth(credential.username, credential.password);
    }
    this.scram = new ScramClient(mechanism, credential.username, credential.password);
    this.state = 'first';
    return auth(mechanism, this.scram.clientFirst());
  }

  /**
   * A SASL element from the server (`<challenge/>`, `<success/>`, `<failure/>`). During a SCRAM
   * login Gangway answers challenges (`drop`: the client does not see them), turns a verified
   * `<success/>` into an empty one for the client, and refuses the session when the server's
   * messages or signature fail; `<failure/>` and anything outside a SCRAM login `pass`.
   */
  fromServer(frame: XmppFrame): SaslVerdict {
    if (this.state === 'idle') return 'pass';
    const scram = this.scram as ScramClient;
    try {
      switch (frame.localName) {
        case 'failure':
          this.reset();
          return 'pass';
        case 'challenge':
          return this.challenge(scram, frame);
        case 'success':
          return this.success(scram, frame);
        default:
          throw exchangeError(`<${frame.localName}/> during the SCRAM exchange`);
      }
    } catch (err) {
      this.reset();
      if (err instanceof ScramError) throw scramFailure(err);
      throw err;
    }
  }

  private challenge(scram: ScramClient, frame: XmppFrame): SaslVerdict {
    const data = saslData(frame);
    if (this.state === 'first') {
      this.state = 'computing';
      scram.clientFinal(data).then(
        (final) => {
          if (this.scram !== scram || this.state !== 'computing') return;
          this.state = 'final';
          this.link.write(response(final));
        },
        (err: unknown) => {
          if (this.scram !== scram) return;
          this.reset();
          if (err instanceof ScramError) this.link.refuse(scramFailure(err));
          else this.link.refuse(new InjectionError('xmpp', INJECT_ERRORS.SASL_EXCHANGE, 'Gangway could not compute the SCRAM proof', { cause: err }));
        },
      );
      return 'drop';
    }
    if (this.state === 'final') {
      // RFC 6120 §6.4.6 lets the server send its final data in a challenge, answered empty.
      scram.verifyServerFinal(data);
      this.state = 'verified';
      this.link.write(response(Buffer.alloc(0)));
      return 'drop';
    }
    throw exchangeError(`a challenge while ${this.state === 'computing' ? 'the proof is computed' : 'waiting for <success/>'}`);
  }

  private success(scram: ScramClient, frame: XmppFrame): SaslVerdict {
    const data = saslData(frame);
    if (this.state === 'final') {
      if (data.length === 0) throw exchangeError('<success/> without the SCRAM server signature');
      scram.verifyServerFinal(data);
    } else if (this.state !== 'verified' || data.length !== 0) {
      throw exchangeError(this.state === 'verified' ? '<success/> with data after the server signature' : '<success/> before the SCRAM exchange finished');
    }
    this.reset();
    return SUCCESS_TO_CLIENT;
  }

  private reset(): void {
    this.state = 'idle';
    this.scram = null;
  }
}
