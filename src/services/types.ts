import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { AcceptUri } from '../config/schema';
import type { SessionLimits } from '../config/defaults';
import type { Session } from '../session';
import type { ServiceMetrics } from '../metrics';
import type { ServiceAuthConfig } from '../../security/schema';
import type { Subject } from '../../security/subject';

/** One service after load: URIs parsed, properties validated, limits merged with the defaults. */
export interface ServiceConfig<P = unknown> {
  readonly name: string;
  readonly type: string;
  readonly description?: string;
  readonly accept: readonly AcceptUri[];
  /** The back end, parsed; absent for types that connect nowhere. */
  readonly connect?: URL;
  /** Subprotocols the service speaks, in order of preference. */
  readonly subprotocols: readonly string[];
  readonly properties: P;
  readonly limits: Readonly<SessionLimits>;
  /** Who may connect, when the service is guarded. */
  readonly auth?: ServiceAuthConfig;
}

/** Whether a service can serve now, for `/ready`. */
export interface Readiness {
  readonly ok: boolean;
  readonly detail?: string;
}

/** Gateway facilities a service may use (the management service reads them). */
export interface GatewayView {
  readonly startedAt: number;
  sessions(): Iterable<Session>;
  services(): Iterable<Service>;
  listening(): boolean;
  metricsText(): Promise<{ contentType: string; body: string }>;
}

export interface ServiceContext<P> {
  readonly config: ServiceConfig<P>;
  readonly log: Logger;
  readonly metrics: ServiceMetrics;
  readonly gateway: GatewayView;
}

/** A running service: HTTP requests and/or WebSocket sessions under its accept paths. */
export interface Service {
  readonly config: ServiceConfig;
  /**
   * Serves one HTTP request; `subpath` is the request path below the mount, starting with `/`;
   * `subject` is the authenticated user when the service is guarded.
   */
  handleRequest?(req: IncomingMessage, res: ServerResponse, subpath: string, subject?: Subject): void;
  /** Takes over an accepted WebSocket session. */
  handleSession?(session: Session): void;
  /** Whether the service's back end is reachable. */
  ready?(): Promise<Readiness>;
  /** Releases what the service holds (sessions are closed by the gateway before this). */
  close?(): Promise<void>;
}

/** A service type: a line in the registry (`src/services/index.ts`). */
export interface ServiceType<P = unknown> {
  readonly type: string;
  /** Accept URI schemes: `ws` (WebSocket sessions) and/or `http` (requests); `wss`/`https` follow. */
  readonly accepts: readonly ('ws' | 'http')[];
  /** Whether `connect` is required, and which schemes it takes. */
  readonly connect: { readonly required: boolean; readonly schemes: readonly string[] } | null;
  /**
   * Paths below the mount this type answers exactly (`/health` under `/`). They win over any prefix
   * mount, so a management service and a directory can share `/`. Absent: the whole mount (prefix).
   */
  readonly exactPaths?: readonly string[];
  /** Subprotocols spoken when the service's configuration lists none, in order of preference. */
  readonly defaultSubprotocols?: readonly string[];
  /** Schema of `properties` (defaults applied by the schema). */
  readonly properties: z.ZodType<P>;
  create(ctx: ServiceContext<P>): Service;
}
