import { z } from 'zod';
import { protocol as amqp091, DEFAULT_LIMITS as AMQP091_LIMITS, FRAME_END, FRAME_METHOD, connectionClose, type Amqp091Frame } from '../../../validators/amqp091';
import {
  protocol as amqp10, DEFAULT_LIMITS as AMQP10_LIMITS, AMQP_HEADER, FRAME_SASL, closeFrame, openFrame, type Amqp10Frame, type AmqpValue,
} from '../../../validators/amqp10';
import type { CodecPair, ProtocolModule, WireError, WireFrame } from '../../../validators/types';
import { INJECT_ERRORS, InjectionError, type Injector } from '../inject/injector';
import type { Credential } from '../inject/types';
import type { BackendLink, Transform } from '../pipe';
import { rawOf } from './stomp';
import { BackendValidator, injectorFor, limitsSchema, wirePropertiesShape, type WireProtocol } from './factory';

const properties = z.strictObject({
  ...wirePropertiesShape,
  /** Overrides of the AMQP 0-9-1 validator's limits (validators/amqp091/README.md). */
  amqp091Limits: limitsSchema(AMQP091_LIMITS).default({}),
  /** Overrides of the AMQP 1.0 validator's limits (validators/amqp10/README.md). */
  amqp10Limits: limitsSchema(AMQP10_LIMITS).default({}),
});

type AmqpProxyProperties = z.infer<typeof properties>;

const HEADER_BYTES = 8;

/**
 * What the client gets when Gangway ends the session itself (its authorization expired, it reached
 * its lifetime). AMQP 0-9-1: Connection.Close with 320 `connection-forced`, the hard error for "an
 * operator intervened" (403 `access-refused` is a channel-level soft error in the 0-9-1 classes).
 * AMQP 1.0: close with `amqp:unauthorized-access` (part 2 §2.8.15), which names the cause.
 */
export const END_REPLY_CODE = 320;
export const END_CONDITION = 'amqp:unauthorized-access';

/** Where a connection stands, for a close of Gangway's own that must fit the stream at that point. */
interface Progress {
  /** 0-9-1: the client got Connection.Start (the connection exists at protocol level). */
  started: boolean;
  /** 1.0: the client sent the AMQP (not SASL) header. */
  amqpLayer: boolean;
  /** 1.0: the client opened SASL and has not yet got the outcome. */
  inSasl: boolean;
  /** 1.0: the client got the server's AMQP header, and its open. */
  header: boolean;
  open: boolean;
  /** Either side sent a connection close. */
  closing: boolean;
}

/** Moves `progress` on by one frame. */
function observe(progress: Progress, direction: 'toServer' | 'toClient', frame: WireFrame): void {
  const f = frame as Amqp091Frame | Amqp10Frame;
  if (f.kind === 'connection.close' || f.kind === 'close') progress.closing = true;
  else if (f.kind === 'protocol-header' && 'protocolId' in f) {
    if (direction === 'toClient') progress.header ||= f.protocolId === 0;
    else if (f.protocolId === 3) progress.inSasl = true;
    else progress.amqpLayer = true;
  } else if (direction === 'toClient') {
    if (f.kind === 'connection.start') progress.started = true;
    else if (f.kind === 'sasl-outcome') progress.inSasl = false;
    else if (f.kind === 'open') progress.open = true;
  }
}

/**
 * The broker's last handshake frame: AMQP 0-9-1 Connection.Open-Ok (§2.2.4, the connection is
 * tuned and open), AMQP 1.0 the broker's open (part 2 §2.4.1, after SASL).
 */
function handshakeEnd(frame: WireFrame): boolean {
  return frame.kind === 'connection.open-ok' || frame.kind === 'open';
}

/** AMQP 1.0 protocol ids: 0 AMQP, 2 TLS, 3 SASL, each version 1.0.0. */
function isAmqp10(header: Buffer): boolean {
  return header[5] === 1 && header[6] === 0 && header[7] === 0 && header[4] !== 1;
}

const PLAIN = 'PLAIN';
const AMQPLAIN = 'AMQPLAIN';

function shortstr(text: string): Buffer {
  const b = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from([b.length]), b]);
}

function longstr(b: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(b.length, 0);
  return Buffer.concat([head, b]);
}

/** SASL PLAIN's message (RFC 4616): no authorization identity, NUL, user, NUL, password. */
export function plainResponse(credential: Credential): Buffer {
  return Buffer.concat([Buffer.from([0]), Buffer.from(credential.username, 'utf8'), Buffer.from([0]), Buffer.from(credential.password, 'utf8')]);
}

/** RabbitMQ's AMQPLAIN response: the entries of a field table (LOGIN, PASSWORD) without its length. */
export function amqplainResponse(credential: Credential): Buffer {
  const entry = (name: string, value: string): Buffer => Buffer.concat([shortstr(name), Buffer.from('S'), longstr(Buffer.from(value, 'utf8'))]);
  return Buffer.concat([entry('LOGIN', credential.username), entry('PASSWORD', credential.password)]);
}

/**
 * A validated Connection.Start-Ok (AMQP 0-9-1 §1.4.2.2) with its mechanism and response replaced:
 * client-properties and locale are kept byte for byte, the frame size is recomputed.
 */
export function startOkWith(raw: Buffer, mechanism: typeof PLAIN | typeof AMQPLAIN, credential: Credential): Buffer {
  let at = 11;
  at += 4 + raw.readUInt32BE(at);
  const properties = raw.subarray(11, at);
  at += 1 + (raw[at] as number);
  at += 4 + raw.readUInt32BE(at);
  const locale = raw.subarray(at, at + 1 + (raw[at] as number));
  const response = mechanism === PLAIN ? plainResponse(credential) : amqplainResponse(credential);
  const payload = Buffer.concat([raw.subarray(7, 11), properties, shortstr(mechanism), longstr(response), locale]);
  const head = Buffer.alloc(7);
  head[0] = FRAME_METHOD;
  head.writeUInt16BE(raw.readUInt16BE(1), 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([FRAME_END])]);
}

/** Mechanism names from a server's Connection.Start (a space-separated longstr). */
function mechanismList(value: unknown): string[] {
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : typeof value === 'string' ? value : '';
  return text.split(' ').filter((m) => m !== '');
}

/** AMQP 1.0 encodings (part 1 §1.6) for the SASL frames Gangway writes. */
function vbin(b: Buffer): Buffer {
  if (b.length <= 255) return Buffer.concat([Buffer.from([0xa0, b.length]), b]);
  const head = Buffer.alloc(5);
  head[0] = 0xb0;
  head.writeUInt32BE(b.length, 1);
  return Buffer.concat([head, b]);
}

function sym8(text: string): Buffer {
  const b = Buffer.from(text, 'latin1');
  return Buffer.concat([Buffer.from([0xa3, b.length]), b]);
}

function str(text: string): Buffer {
  const b = Buffer.from(text, 'utf8');
  if (b.length <= 255) return Buffer.concat([Buffer.from([0xa1, b.length]), b]);
  const head = Buffer.alloc(5);
  head[0] = 0xb1;
  head.writeUInt32BE(b.length, 1);
  return Buffer.concat([head, b]);
}

/** A SASL frame (type 1, channel 0) holding the described list `code` of `items`. */
function saslFrame(code: number, items: readonly Buffer[]): Buffer {
  const body = Buffer.concat(items);
  const head = Buffer.alloc(9);
  head[0] = 0xd0;
  head.writeUInt32BE(body.length + 4, 1);
  head.writeUInt32BE(items.length, 5);
  const performative = Buffer.concat([Buffer.from([0x00, 0x53, code]), head, body]);
  const frame = Buffer.alloc(8);
  frame.writeUInt32BE(8 + performative.length, 0);
  frame[4] = 2;
  frame[5] = FRAME_SASL;
  return Buffer.concat([frame, performative]);
}

/** sasl-init (part 5 §5.3.3.2) with mechanism PLAIN and the credential, keeping the client's hostname. */
export function saslInitPlain(credential: Credential, hostname: AmqpValue | undefined): Buffer {
  const items = [sym8(PLAIN), vbin(plainResponse(credential))];
  if (typeof hostname === 'string') items.push(str(hostname));
  return saslFrame(0x41, items);
}

/** sasl-outcome (part 5 §5.3.3.6): 1 auth (credentials refused), 3 sys-perm (will not work). */
export function saslOutcome(code: 1 | 3): Buffer {
  return saslFrame(0x44, [Buffer.from([0x50, code])]);
}

/** Symbols of a sasl-mechanisms frame's `sasl-server-mechanisms` (one symbol or an array). */
function symbolList(value: AmqpValue | undefined): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** The AMQP-side reply to a refused injection: Connection.Close 403, a SASL outcome, or a close after open. */
function injectionReply(err: InjectionError, module: ProtocolModule | null, inSasl: boolean): Buffer {
  if (module === (amqp10 as ProtocolModule)) {
    if (inSasl) return saslOutcome(err.code === INJECT_ERRORS.NO_CREDENTIAL.code ? 1 : 3);
    return Buffer.concat([AMQP_HEADER, openFrame(), closeFrame('amqp:unauthorized-access', err.message)]);
  }
  return connectionClose(403, `ACCESS_REFUSED - ${err.message}`);
}

/** Rewrites the login frames of one AMQP connection with the injected credential. */
class AmqpInjection {
  /** Mechanisms the server offered (Connection.Start or sasl-mechanisms). */
  private offered: string[] = [];
  /** The client opened AMQP 1.0 SASL (its login went or will go through sasl-init). */
  private sasl = false;

  constructor(
    private readonly injector: Injector,
    private readonly link: () => BackendLink | null,
  ) {}

  private credential(protocol: 'amqp091' | 'amqp10'): Credential {
    try {
      return this.injector.take(this.link()?.secure ?? false);
    } catch (err) {
      if (err instanceof InjectionError && err.protocol !== protocol) throw new InjectionError(protocol, { code: err.code, summary: err.message, close: err.closeCode, condition: err.condition }, err.message);
      throw err;
    }
  }

  fromServer(frame: WireFrame): void {
    const f = frame as Amqp091Frame | Amqp10Frame;
    if (f.kind === 'connection.start' && 'args' in f) this.offered = mechanismList(f.args['mechanisms']);
    else if (f.kind === 'sasl-mechanisms' && 'fields' in f) this.offered = symbolList(f.fields['saslServerMechanisms']);
  }

  /** The frame's bytes toward the server, rewritten when it carries the login. */
  fromClient(frame: WireFrame): Buffer {
    const f = frame as Amqp091Frame | Amqp10Frame;
    if (f.kind === 'protocol-header' && 'protocolId' in f) {
      if (f.protocolId === 3) {
        this.sasl = true;
        return f.raw;
      }
      if (!this.sasl) {
        throw new InjectionError('amqp10', INJECT_ERRORS.UNSUPPORTED_LOGIN, 'Gangway injects the credential into SASL: the client must start with the SASL header (any mechanism, e.g. ANONYMOUS)');
      }
      return f.raw;
    }
    if (f.kind === 'connection.start-ok' && 'args' in f) {
      const credential = this.credential('amqp091');
      const wanted = String(f.args['mechanism'] ?? '');
      const mechanism = [wanted, PLAIN, AMQPLAIN].find((m) => (m === PLAIN || m === AMQPLAIN) && this.offered.includes(m));
      if (mechanism !== PLAIN && mechanism !== AMQPLAIN) {
        throw new InjectionError('amqp091', INJECT_ERRORS.UNSUPPORTED_LOGIN, `the broker offers neither PLAIN nor AMQPLAIN (offered: ${this.offered.join(' ') || 'none'})`);
      }
      return startOkWith(f.raw, mechanism, credential);
    }
    if (f.kind === 'sasl-init' && 'fields' in f) {
      const credential = this.credential('amqp10');
      if (!this.offered.includes(PLAIN)) {
        throw new InjectionError('amqp10', INJECT_ERRORS.UNSUPPORTED_LOGIN, `the broker does not offer SASL PLAIN (offered: ${this.offered.join(' ') || 'none'})`);
      }
      return saslInitPlain(credential, f.fields['hostname']);
    }
    return f.raw;
  }
}

/**
 * `amqp.proxy`: AMQP 0-9-1 and AMQP 1.0 over binary WebSocket messages (stream semantics, any
 * split), told apart by the client's protocol header. Complete, valid frames only are forwarded
 * in both directions; with `validateServer: false`, the broker's bytes after its handshake pass on
 * as read. With `inject`, the login goes to the broker with Gangway's credential:
 * 0-9-1 Connection.Start-Ok is re-encoded with PLAIN (or AMQPLAIN, when the client chose it and
 * the broker offers it); an AMQP 1.0 client must open SASL (any mechanism, ANONYMOUS included)
 * and its sasl-init is replaced by PLAIN.
 */
export const amqpProxy: WireProtocol<AmqpProxyProperties> = {
  type: 'amqp.proxy',
  subprotocols: ['amqp', 'amqp091'],
  properties,
  transform(session, props, metrics, credentials) {
    const injector = injectorFor('amqp091', session, props, credentials);
    let link: BackendLink | null = null;
    const injection = injector === null ? null : new AmqpInjection(injector, () => link);
    let pair: CodecPair | null = null;
    let server: BackendValidator<WireFrame> | null = null;
    let module: ProtocolModule | null = null;
    let head: Buffer | null = null;
    const progress: Progress = { started: false, amqpLayer: false, inSasl: false, header: false, open: false, closing: false };
    const choose = (header: Buffer): CodecPair => {
      module = (isAmqp10(header) ? amqp10 : amqp091) as ProtocolModule;
      const limits = module === (amqp10 as ProtocolModule) ? props.amqp10Limits : props.amqp091Limits;
      return module.createPair(limits);
    };
    /** Counts the frames and follows the connection's progress through them. */
    const note = (direction: 'toServer' | 'toClient', frames: readonly WireFrame[]): void => {
      for (const f of frames) {
        metrics.frame(direction, f.kind);
        observe(progress, direction, f);
      }
    };
    const transform: Transform = {
      // AMQP over WebSocket is binary, even for a reply that happens to be UTF-8 (a protocol header).
      binaryReplies: true,
      attach(l) {
        link = l;
      },
      fromClient(data) {
        let input = data;
        if (!pair) {
          input = head ? Buffer.concat([head, data]) : data;
          if (input.length < HEADER_BYTES) {
            head = Buffer.from(input);
            return null;
          }
          head = null;
          pair = choose(input);
        }
        const frames = pair.toServer.push(input);
        note('toServer', frames);
        if (injection === null) return rawOf(frames);
        return rawOf(frames.map((f) => ({ raw: injection.fromClient(f) })));
      },
      fromBackend(chunk, send) {
        pair ??= choose(Buffer.alloc(HEADER_BYTES));
        server ??= new BackendValidator(pair.toClient, props.validateServer, handshakeEnd);
        // After the handshake without validateServer: AMQP over WebSocket is a byte stream.
        if (!server.validating) {
          send(chunk, true);
          return;
        }
        const frames = server.push(chunk);
        note('toClient', frames);
        if (injection !== null) for (const f of frames) injection.fromServer(f);
        const out = rawOf(frames);
        if (out) send(out, true);
      },
      clientReply(err: WireError) {
        // An injection error comes from the client's SASL header or sasl-init (or 0-9-1 Start-Ok),
        // before the broker's outcome: inside SASL exactly when the client opened it.
        if (err instanceof InjectionError) return [injectionReply(err, module, progress.inSasl)];
        const reply = (module ?? (amqp091 as ProtocolModule)).reply(err);
        return reply ? [reply] : [];
      },
      endNotice(reason) {
        if (module === null || progress.closing) return [];
        if (module === (amqp10 as ProtocolModule)) {
          // Part 2 §2.4.1: close follows the header and open sent to the client (sent now when
          // they are not yet); during SASL, or before the AMQP header, no frame can say it.
          if (!progress.amqpLayer || progress.inSasl) return [];
          const parts = progress.header ? [] : [AMQP_HEADER];
          if (!progress.open) parts.push(openFrame());
          parts.push(closeFrame(END_CONDITION, reason));
          return [Buffer.concat(parts)];
        }
        // §1.4.2.9: Connection.Close may end the connection once it exists (after Connection.Start).
        return progress.started ? [connectionClose(END_REPLY_CODE, `CONNECTION_FORCED - ${reason}`)] : [];
      },
      backendReply(err) {
        return (module ?? (amqp091 as ProtocolModule)).reply(err);
      },
    };
    if (injector !== null) transform.start = () => injector.load();
    return transform;
  },
};
