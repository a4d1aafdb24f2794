/**
 * The login `irc.proxy` performs itself with an injected credential when the IRC server offers
 * IRCv3 SASL: capability negotiation and SASL PLAIN, before any line of the client's reaches the
 * server, so the client's own registration (and its own CAP negotiation) follows a connection
 * that is already logged in to its account.
 *
 * - IRCv3 capability negotiation: https://ircv3.net/specs/extensions/capability-negotiation
 *   (`CAP LS 302`, multi-line replies, `CAP REQ`, `CAP END`; registration waits while it is open);
 * - IRCv3 SASL 3.1 / 3.2: https://ircv3.net/specs/extensions/sasl-3.1 and sasl-3.2
 *   (`AUTHENTICATE PLAIN`, `AUTHENTICATE +`, the response in base64 pieces of 400 bytes, numerics
 *   900 and 903 on success, 902 and 904–907 on failure, 908 listing the mechanisms);
 * - SASL PLAIN: RFC 4616 (no authorization identity).
 */
import { z } from 'zod';
import type { IrcFrame } from '../../../validators/irc';
import { plainResponse } from '../wire/amqp';
import { INJECT_ERRORS, InjectionError } from './injector';
import { checkInjectSource, injectShape, type Credential } from './types';

/**
 * `properties.inject` of `irc.proxy`: the common injection settings plus `login`, how the
 * credential is presented to the server.
 */
export const ircInjectSchema = z
  .strictObject({
    ...injectShape,
    /**
     * `pass`: the password as the server password (`PASS`) before the client's registration;
     * `sasl`: an IRCv3 SASL PLAIN login to the account (user name and password) that Gangway
     * performs itself, refused when the server does not offer it; `auto`: SASL PLAIN when the
     * server lists `sasl` (with PLAIN among its mechanisms, when it names them) in its answer to
     * `CAP LS 302`, else `PASS`.
     * @default "auto"
     */
    login: z.enum(['auto', 'pass', 'sasl']).default('auto'),
  })
  .superRefine(checkInjectSource);

/** Longest base64 piece of one AUTHENTICATE line (SASL 3.1). */
export const AUTHENTICATE_CHUNK = 400;

/**
 * The AUTHENTICATE lines carrying the PLAIN response for `credential`: base64 in pieces of 400
 * bytes, and `AUTHENTICATE +` after a last piece of exactly 400 bytes so the server knows the
 * response is complete.
 */
export function authenticateLines(credential: Credential): string[] {
  const encoded = plainResponse(credential).toString('base64');
  const lines: string[] = [];
  for (let at = 0; at < encoded.length; at += AUTHENTICATE_CHUNK) lines.push(`AUTHENTICATE ${encoded.slice(at, at + AUTHENTICATE_CHUNK)}`);
  if (encoded.length % AUTHENTICATE_CHUNK === 0) lines.push('AUTHENTICATE +');
  return lines;
}

/** How the login ended: logged in with SASL (to `account`, when the server said which), or `PASS` to send instead. */
export type IrcLoginOutcome = { readonly method: 'sasl'; readonly account: string | null } | { readonly method: 'pass' };

const RPL_LOGGEDIN = '900';
const RPL_SASLSUCCESS = '903';
const RPL_SASLMECHS = '908';
/** SASL failures: ERR_NICKLOCKED, ERR_SASLFAIL, ERR_SASLTOOLONG, ERR_SASLABORTED, ERR_SASLALREADY. */
const SASL_FAILURES: ReadonlySet<string> = new Set(['902', '904', '905', '906', '907']);
/** Answers to CAP from a server without capability negotiation: ERR_UNKNOWNCOMMAND, ERR_NOTREGISTERED, ERR_INVALIDCAPCMD. */
const NO_CAP: ReadonlySet<string> = new Set(['421', '451', '410']);

/** What Gangway waits for from the server. */
type Phase =
  /** Not started, or finished: every line is the client's. */
  | 'idle'
  /** The answer to `CAP LS 302` (one or more `CAP * LS` lines). */
  | 'caps'
  /** `CAP * ACK :sasl` or `CAP * NAK :sasl`. */
  | 'request'
  /** `AUTHENTICATE +`: the server takes the PLAIN response. */
  | 'challenge'
  /** 903, or a failure numeric. */
  | 'outcome';

/**
 * One session's capability negotiation and SASL PLAIN exchange. {@link run} writes Gangway's
 * lines through `send`; the proxy hands every line from the server to {@link consume} first,
 * and forwards to the client only those it does not take (its replies never reach the client).
 */
export class IrcSaslLogin {
  private phase: Phase = 'idle';
  /** Capabilities listed so far, with their values (`''` when none). */
  private readonly offered = new Map<string, string>();
  private account: string | null = null;
  private mechanisms: string | null = null;
  private resolve: ((outcome: IrcLoginOutcome) => void) | null = null;
  private reject: ((err: InjectionError) => void) | null = null;

  constructor(
    private readonly mode: 'auto' | 'sasl',
    private readonly credential: Credential,
    /** Writes one line (without its line end) to the server. */
    private readonly send: (line: string) => void,
  ) {}

  /**
   * Negotiates: `CAP LS 302`; when `sasl` with PLAIN is offered, `CAP REQ :sasl`,
   * `AUTHENTICATE PLAIN`, the response, then `CAP END` after 903. Resolves `{ method: 'pass' }`
   * in mode `auto` when the server offers no SASL PLAIN (after `CAP END` when it negotiated).
   * Rejects with {@link InjectionError}: `UNSUPPORTED_LOGIN` (mode `sasl` without SASL PLAIN,
   * `sasl` refused) or `LOGIN_REFUSED` (a failure numeric).
   */
  run(): Promise<IrcLoginOutcome> {
    return new Promise<IrcLoginOutcome>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.phase = 'caps';
      this.send('CAP LS 302');
    });
  }

  /** Whether the server's `frame` answered Gangway (true: the client must not see it). */
  consume(frame: IrcFrame): boolean {
    const { command, params } = frame;
    switch (this.phase) {
      case 'idle':
        return false;
      case 'caps':
        if (command === 'CAP' && params[1] === 'LS') {
          this.listed(params);
          return true;
        }
        if (NO_CAP.has(command)) {
          this.withoutSasl('the IRC server does not negotiate capabilities', false);
          return true;
        }
        return false;
      case 'request':
        if (command !== 'CAP' || (params[1] !== 'ACK' && params[1] !== 'NAK')) return false;
        if (params[1] === 'NAK') this.fail(INJECT_ERRORS.UNSUPPORTED_LOGIN, 'the IRC server refused the sasl capability');
        else {
          this.phase = 'challenge';
          this.send('AUTHENTICATE PLAIN');
        }
        return true;
      case 'challenge':
        if (command === 'AUTHENTICATE') {
          if (params[0] !== '+') this.fail(INJECT_ERRORS.UNSUPPORTED_LOGIN, 'the IRC server sent an AUTHENTICATE challenge, which SASL PLAIN does not answer');
          else {
            this.phase = 'outcome';
            for (const line of authenticateLines(this.credential)) this.send(line);
          }
          return true;
        }
        return this.outcome(frame);
      case 'outcome':
        if (command === 'AUTHENTICATE') {
          this.fail(INJECT_ERRORS.UNSUPPORTED_LOGIN, 'the IRC server sent an AUTHENTICATE challenge, which SASL PLAIN does not answer');
          return true;
        }
        return this.outcome(frame);
    }
  }

  /** One `CAP * LS [*] :caps` line; the last one (no `*` before the list) decides. */
  private listed(params: readonly string[]): void {
    const more = params.length > 3 && params[2] === '*';
    for (const cap of (params[params.length - 1] ?? '').split(' ')) {
      if (cap === '') continue;
      const eq = cap.indexOf('=');
      this.offered.set(eq < 0 ? cap : cap.slice(0, eq), eq < 0 ? '' : cap.slice(eq + 1));
    }
    if (more) return;
    const sasl = this.offered.get('sasl');
    if (sasl === undefined) {
      this.withoutSasl('the IRC server does not offer SASL', true);
      return;
    }
    // SASL 3.2 names the mechanisms; with none named (3.1), PLAIN is worth a try.
    if (sasl !== '' && !sasl.split(',').includes('PLAIN')) {
      this.withoutSasl(`the IRC server offers SASL without PLAIN (${sasl})`, true);
      return;
    }
    this.phase = 'request';
    this.send('CAP REQ :sasl');
  }

  /** The server offers no SASL PLAIN: `PASS` in mode `auto`, a refusal in mode `sasl`. */
  private withoutSasl(why: string, negotiated: boolean): void {
    if (this.mode === 'sasl') {
      this.fail(INJECT_ERRORS.UNSUPPORTED_LOGIN, `${why}; this service logs in with SASL PLAIN`);
      return;
    }
    if (negotiated) this.send('CAP END');
    this.finish({ method: 'pass' });
  }

  /** Numerics after `AUTHENTICATE PLAIN`: 900, 903, 908 and the failures. */
  private outcome(frame: IrcFrame): boolean {
    const { command, params } = frame;
    if (command === RPL_LOGGEDIN) {
      this.account = params[2] ?? null;
      return true;
    }
    if (command === RPL_SASLMECHS) {
      this.mechanisms = params[1] ?? null;
      return true;
    }
    if (command === RPL_SASLSUCCESS) {
      this.send('CAP END');
      this.finish({ method: 'sasl', account: this.account });
      return true;
    }
    if (SASL_FAILURES.has(command)) {
      const text = params.length > 1 ? params[params.length - 1] : '';
      const mechanisms = this.mechanisms === null ? '' : ` (mechanisms offered: ${this.mechanisms})`;
      this.fail(INJECT_ERRORS.LOGIN_REFUSED, `the IRC server refused the SASL PLAIN login: ${command} ${text}${mechanisms}`);
      return true;
    }
    return false;
  }

  private finish(outcome: IrcLoginOutcome): void {
    this.phase = 'idle';
    this.resolve?.(outcome);
  }

  private fail(spec: (typeof INJECT_ERRORS)[keyof typeof INJECT_ERRORS], message: string): void {
    this.phase = 'idle';
    this.reject?.(new InjectionError('irc', spec, message));
  }
}
