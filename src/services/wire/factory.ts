import { z } from 'zod';
import type { Session } from '../../session';
import type { ServiceMetrics } from '../../metrics';
import { pipePropertiesShape, probeBackend, runPipe, type PipeProperties, type Transform } from '../pipe';
import type { Service, ServiceType } from '../types';

/** Protocol limits as users override them: names and types of the validator's own defaults. */
export function limitsSchema(defaults: Readonly<Record<string, unknown>>): z.ZodType<Record<string, number | boolean>> {
  return z.record(z.string(), z.union([z.number(), z.boolean()])).superRefine((value, ctx) => {
    for (const [key, v] of Object.entries(value)) {
      if (!(key in defaults)) ctx.addIssue({ code: 'custom', path: [key], message: `unknown limit (expected one of ${Object.keys(defaults).join(', ')})` });
      else if (typeof defaults[key] !== typeof v) ctx.addIssue({ code: 'custom', path: [key], message: `expected a ${typeof defaults[key]}` });
    }
  });
}

/** What a protocol proxy type contributes: its properties and a transform per session. */
export interface WireProtocol<P extends PipeProperties> {
  readonly type: string;
  /** Subprotocols spoken when the service lists none, in order of preference. */
  readonly subprotocols: readonly string[];
  readonly properties: z.ZodType<P>;
  transform(session: Session, properties: P, metrics: ServiceMetrics): Transform;
}

/**
 * A protocol-aware proxy type: the `proxy` pipeline with the protocol's validator inline. Every
 * client frame is validated before it is forwarded; the back end's stream is validated before the
 * client sees it (it is also how Gangway cuts it into messages).
 */
export function wireProxyType<P extends PipeProperties>(protocol: WireProtocol<P>): ServiceType<P> {
  return {
    type: protocol.type,
    accepts: ['ws'],
    connect: { required: true, schemes: ['tcp', 'tls'] },
    properties: protocol.properties,
    defaultSubprotocols: protocol.subprotocols,
    create(ctx): Service {
      const { config, metrics } = ctx;
      return {
        config,
        handleSession(session: Session): void {
          runPipe(session, ctx, protocol.transform(session, config.properties, metrics));
        },
        ready: () => probeBackend(config),
      };
    },
  };
}

/** The shape every protocol proxy's properties start from. */
export const wirePropertiesShape = pipePropertiesShape;
