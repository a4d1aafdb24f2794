/**
 * One session's credential injection: the lookup made once when the session starts, and the
 * plaintext policy checked at the moment the credential would go on the wire.
 */
import { WireError, type ErrorSpec, type ProtocolName } from '../../../validators/types';
import type { Credential, CredentialSource, InjectProperties } from './types';

/** Why Gangway refused to inject a credential; each proxy turns it into its protocol's own error. */
export const INJECT_ERRORS = {
  NO_CREDENTIAL: {
    code: 'GW_ERR_INJECT_NO_CREDENTIAL',
    summary: 'No back-end credential is stored for this user and service.',
    close: 1008,
    condition: 'not-authorized',
  },
  LOOKUP_FAILED: {
    code: 'GW_ERR_INJECT_LOOKUP_FAILED',
    summary: 'The back-end credential could not be looked up (the store failed or did not answer in time).',
    close: 1011,
    condition: 'internal-server-error',
  },
  PLAINTEXT_LINK: {
    code: 'GW_ERR_INJECT_PLAINTEXT_LINK',
    summary: 'The link to the back end is not encrypted and the service does not allow plaintext credentials.',
    close: 1008,
    condition: 'policy-violation',
  },
  UNSUPPORTED_LOGIN: {
    code: 'GW_ERR_INJECT_UNSUPPORTED_LOGIN',
    summary: 'The back end offers no login mechanism Gangway can inject a credential into.',
    close: 1008,
    condition: 'policy-violation',
  },
  BAD_CREDENTIAL: {
    code: 'GW_ERR_INJECT_BAD_CREDENTIAL',
    summary: 'The stored credential holds characters the protocol cannot carry (NUL, CR, LF).',
    close: 1011,
    condition: 'internal-server-error',
  },
  LOGIN_REFUSED: {
    code: 'GW_ERR_INJECT_LOGIN_REFUSED',
    summary: 'The back end refused the login Gangway performed itself with the injected credential (IRC SASL).',
    close: 1008,
    condition: 'not-authorized',
  },
  STARTTLS_REFUSED: {
    code: 'GW_ERR_INJECT_STARTTLS_REFUSED',
    summary: 'The back end did not agree to STARTTLS, and credentials are not sent over a plaintext link.',
    close: 1008,
    condition: 'policy-violation',
  },
  SERVER_SIGNATURE: {
    code: 'GW_ERR_INJECT_SERVER_SIGNATURE',
    summary: "The back end's SCRAM server signature did not verify: it does not hold the credential's keys, or is not the server it claims to be.",
    close: 1014,
    condition: 'remote-connection-failed',
  },
  SASL_EXCHANGE: {
    code: 'GW_ERR_INJECT_SASL_EXCHANGE',
    summary: 'The back end broke the SASL exchange Gangway performs: a malformed or out-of-order SCRAM message, a nonce not extending Gangway\'s, an iteration count outside the limits, a SCRAM error.',
    close: 1014,
    condition: 'remote-connection-failed',
  },
} as const satisfies Record<string, ErrorSpec>;

/** Codes of {@link INJECT_ERRORS}, for documentation checks. */
export const INJECT_ERROR_CODES: readonly string[] = Object.values(INJECT_ERRORS).map((e) => e.code);

/** A refusal to inject, raised as a client-side wire error so the pipe answers in the protocol. */
export class InjectionError extends WireError {
  constructor(protocol: ProtocolName, spec: ErrorSpec, message: string, options?: { cause?: unknown }) {
    super(protocol, 'toServer', spec, message, options);
  }
}

// eslint-disable-next-line no-control-regex
const UNCARRIABLE = /[\u0000\r\n]/;

/** Per-session injection state. */
export class Injector {
  private credential: Credential | null = null;
  private failure: InjectionError | null = null;
  private loaded = false;

  constructor(
    private readonly protocol: ProtocolName,
    private readonly inject: InjectProperties,
    private readonly source: CredentialSource,
    /** The session's service name. */
    private readonly service: string,
    /** The session's authenticated user (`null` on an unguarded service). */
    private readonly user: string | null,
  ) {}

  /** Whether credentials may go over a link that is not encrypted. */
  get allowPlaintext(): boolean {
    return this.inject.allowPlaintextCredentials;
  }

  /**
   * Looks the credential up, once, within `lookupTimeoutMs`. Never rejects: a missing credential,
   * a failed or slow lookup is kept and raised by {@link take}, where the protocol expects the
   * login, so the client is refused at that point in its own protocol.
   */
  async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    try {
      this.credential = await this.lookup();
    } catch (err) {
      if (!(err instanceof InjectionError)) throw err;
      this.failure = err;
    }
  }

  private async lookup(): Promise<Credential> {
    const who = this.user === null ? `service ${this.service}` : `user ${this.user} on service ${this.service}`;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new InjectionError(this.protocol, INJECT_ERRORS.LOOKUP_FAILED, `credential lookup for ${who} took longer than ${this.inject.lookupTimeoutMs} ms`)),
        this.inject.lookupTimeoutMs,
      );
    });
    let found: Credential | null;
    try {
      found = await Promise.race([this.source.lookup(this.user, this.service), timeout]);
    } catch (err) {
      if (err instanceof InjectionError) throw err;
      throw new InjectionError(this.protocol, INJECT_ERRORS.LOOKUP_FAILED, `credential lookup for ${who} failed`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (found === null) throw new InjectionError(this.protocol, INJECT_ERRORS.NO_CREDENTIAL, `no back-end credential for ${who}`);
    if (UNCARRIABLE.test(found.username) || UNCARRIABLE.test(found.password)) {
      throw new InjectionError(this.protocol, INJECT_ERRORS.BAD_CREDENTIAL, `the back-end credential for ${who} holds NUL, CR or LF`);
    }
    return found;
  }

  /**
   * The credential, for a link that is `secure` (TLS from the start or after STARTTLS) or when
   * plaintext credentials are allowed.
   * @throws InjectionError when the lookup failed, when the link is plaintext and that is not
   * allowed, or before {@link load}.
   */
  take(secure: boolean): Credential {
    if (this.failure !== null) throw this.failure;
    if (!secure && !this.inject.allowPlaintextCredentials) {
      throw new InjectionError(
        this.protocol,
        INJECT_ERRORS.PLAINTEXT_LINK,
        'refusing to send the back-end credential over an unencrypted link (use tls://, STARTTLS, or allowPlaintextCredentials: true)',
      );
    }
    if (this.credential === null) throw new InjectionError(this.protocol, INJECT_ERRORS.NO_CREDENTIAL, `no back-end credential for service ${this.service}`);
    return this.credential;
  }
}
