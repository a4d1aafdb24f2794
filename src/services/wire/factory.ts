import { z } from 'zod';
import type { Session } from '../../session';
import type { ServiceMetrics } from '../../metrics';
import { pipePropertiesShape, probeBackend, runPipe, type PipeProperties, type Transform } from '../pipe';
import type { Service, ServiceType } from '../types';
import { credentialSourceFor, injectSchema, NO_CREDENTIALS, type CredentialSource, type InjectProperties } from '../inject/types';
import { Injector } from '../inject/injector';
import type { Codec, ProtocolName, WireFrame } from '../../../validators/types';

/** Protocol limits as users override them: names and types of the validator's own defaults. */
export function limitsSchema(defaults: Readonly<Record<string, unknown>>): z.ZodType<Record<string, number | boolean>> {
  return z.record(z.string(), z.union([z.number(), z.boolean()])).superRefine((value, ctx) => {
    for (const [key, v] of Object.entries(value)) {
      if (!(key in defaults)) ctx.addIssue({ code: 'custom', path: [key], message: `unknown limit (expected one of ${Object.keys(defaults).join(', ')})` });
      else if (typeof defaults[key] !== typeof v) ctx.addIssue({ code: 'custom', path: [key], message: `expected a ${typeof defaults[key]}` });
    }
  });
}

/** Properties every protocol proxy takes. */
export interface WireProperties extends PipeProperties {
  readonly inject?: InjectProperties;
  readonly validateServer: boolean;
}

/** What a protocol proxy type contributes: its properties and a transform per session. */
export interface WireProtocol<P extends WireProperties> {
  readonly type: string;
  /** Subprotocols spoken when the service lists none, in order of preference. */
  readonly subprotocols: readonly string[];
  readonly properties: z.ZodType<P>;
  /**
   * Why the back end's stream must always be validated, for a type that cannot do without (it
   * reads the whole stream to translate it): `validateServer: false` is then refused at load.
   * Absent: the type honours `validateServer` (see {@link BackendValidator}).
   */
  readonly serverValidationRequired?: string;
  /**
   * The session's transform. `credentials` is where injected credentials come from: set when the
   * service has `inject`, `null` otherwise.
   */
  transform(session: Session, properties: P, metrics: ServiceMetrics, credentials: CredentialSource | null): Transform;
}

/**
 * The session's injector when the service injects credentials (`properties.inject`), else `null`.
 * The user is the session's authenticated subject's name (`null` on an unguarded service).
 */
export function injectorFor(protocol: ProtocolName, session: Session, properties: WireProperties, credentials: CredentialSource | null): Injector | null {
  if (!properties.inject || credentials === null) return null;
  const { inject } = properties;
  return new Injector(protocol, inject, credentials, inject.keyringEntry ?? session.service, session.subject?.user ?? null);
}

/**
 * The validator of the back end's stream, and when it stops. With `validateServer` (the default)
 * it reads the whole stream. Without, it still reads the back end's part of the handshake, up to
 * the frame `handshakeEnd` accepts, and stops at the end of the first read after it that leaves no
 * partial frame held: the handshake fixes what the validators of both directions share (version,
 * frame sizes, what an error reply to the client may assume) and carries the answers Gangway reads
 * itself (credential injection). From then on {@link BackendValidator.validating} is false and the
 * transform only cuts the stream into the client's messages (./framing.ts), or passes it on as read.
 */
export class BackendValidator<F extends WireFrame> {
  private active = true;
  private handshakeSeen = false;

  constructor(
    private readonly codec: Codec<F>,
    private readonly validateServer: boolean,
    private readonly handshakeEnd: (frame: F) => boolean,
  ) {}

  /** Whether the back end's next bytes go through {@link BackendValidator.push}. */
  get validating(): boolean {
    return this.active;
  }

  /** Validates a read of the back end's stream; returns its frames. Throws `WireError`. */
  push(chunk: Buffer): F[] {
    const frames = this.codec.push(chunk);
    if (!this.validateServer) {
      if (!this.handshakeSeen) this.handshakeSeen = frames.some(this.handshakeEnd);
      if (this.handshakeSeen && this.codec.buffered === 0) this.active = false;
    }
    return frames;
  }
}

/** The type's properties, refusing `validateServer: false` where the type needs the back end's stream validated. */
function propertiesOf<P extends WireProperties>(protocol: WireProtocol<P>): z.ZodType<P> {
  const required = protocol.serverValidationRequired;
  if (required === undefined) return protocol.properties;
  return protocol.properties.superRefine((props, ctx) => {
    if (!props.validateServer) {
      ctx.addIssue({ code: 'custom', path: ['validateServer'], input: false, message: `${protocol.type} always validates the back end's stream (${required}); remove validateServer or set it to true` });
    }
  });
}

/**
 * A protocol-aware proxy type: the `proxy` pipeline with the protocol's validator inline. Every
 * client frame is validated before it is forwarded; the back end's stream is validated before the
 * client sees it, or with `validateServer: false` through its handshake only ({@link BackendValidator}).
 */
export function wireProxyType<P extends WireProperties>(protocol: WireProtocol<P>): ServiceType<P> {
  return {
    type: protocol.type,
    accepts: ['ws'],
    connect: { required: true, schemes: ['tcp', 'tls'] },
    properties: propertiesOf(protocol),
    defaultSubprotocols: protocol.subprotocols,
    create(ctx): Service {
      const { config, metrics } = ctx;
      const inject = (config.properties as WireProperties).inject;
      // The keyring service may be created after this one: ask the gateway at each lookup.
      const keyring: CredentialSource = { lookup: (user, service) => (ctx.gateway.keyring() ?? NO_CREDENTIALS).lookup(user, service) };
      const credentials = inject ? credentialSourceFor(inject, keyring) : null;
      return {
        config,
        handleSession(session: Session): void {
          runPipe(session, ctx, protocol.transform(session, config.properties, metrics, credentials));
        },
        ready: () => probeBackend(config),
      };
    },
  };
}

/** The shape every protocol proxy's properties start from. */
export const wirePropertiesShape = {
  ...pipePropertiesShape,
  /** Credential injection toward the back end (src/services/inject/types.ts). */
  inject: injectSchema.optional(),
  /**
   * Validate the back end's stream before the client sees it. `false` (for a back end trusted not
   * to send malformed data, to save the validator's cost): validated through the protocol's
   * handshake only, then cut into the client's messages within the frame-size limit but not
   * checked (README "Protocol-aware proxies"). The client's stream is always validated.
   * @default true
   */
  validateServer: z.boolean().default(true),
};
