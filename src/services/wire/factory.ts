import { z } from 'zod';
import type { Session } from '../../session';
import type { ServiceMetrics } from '../../metrics';
import { pipePropertiesShape, probeBackend, runPipe, type PipeProperties, type Transform } from '../pipe';
import type { Service, ServiceType } from '../types';
import { credentialSourceFor, injectSchema, NO_CREDENTIALS, type CredentialSource, type InjectProperties } from '../inject/types';
import { Injector } from '../inject/injector';
import type { ProtocolName } from '../../../validators/types';

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
}

/** What a protocol proxy type contributes: its properties and a transform per session. */
export interface WireProtocol<P extends WireProperties> {
  readonly type: string;
  /** Subprotocols spoken when the service lists none, in order of preference. */
  readonly subprotocols: readonly string[];
  readonly properties: z.ZodType<P>;
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
 * A protocol-aware proxy type: the `proxy` pipeline with the protocol's validator inline. Every
 * client frame is validated before it is forwarded; the back end's stream is validated before the
 * client sees it (it is also how Gangway cuts it into messages).
 */
export function wireProxyType<P extends WireProperties>(protocol: WireProtocol<P>): ServiceType<P> {
  return {
    type: protocol.type,
    accepts: ['ws'],
    connect: { required: true, schemes: ['tcp', 'tls'] },
    properties: protocol.properties,
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
};
