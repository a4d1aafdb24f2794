import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { AcceptUri } from '../config/schema';
import type { SessionLimits } from '../config/defaults';
import type { Session } from '../session';
import type { ServiceMetrics } from '../metrics';
import type { ServiceAuthConfig } from '../../security/schema';
import type { Subject } from '../../security/subject';
import type { CredentialSource } from './inject/types';

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
  /** The credentials of the configuration's `keyring` service, when it has one. */
  keyring(): CredentialSource | null;
}

export interface ServiceContext<P> {
  readonly config: ServiceConfig<P>;
  readonly log: Logger;
  readonly metrics: ServiceMetrics;
  readonly gateway: GatewayView;
  /** Folder of the configuration file, which relative paths in properties are read against. */
  readonly baseDir: string;
}

/** A running service: HTTP requests and/or WebSocket sessions under its accept paths. */
export interface Service {
  readonly config: ServiceConfig;
  /**
   * Serves one HTTP request; `subpath` is the request path below the mount, starting with `/`;
   * `subject` is the authenticated user when the service is guarded.
   */
  handleRequest?(req: IncomingMessage, res: ServerResponse, subpath: string, subject?: Subject): void;
  /** Takes over an accepted session (WebSocket, or TCP for types that accept `tcp`). */
  handleSession?(session: Session): void;
  /**
   * Opens what the service needs before the gateway listens (a store, a key); a rejection stops
   * the gateway from starting.
   */
  open?(): Promise<void>;
  /** Whether the service's back end is reachable. */
  ready?(): Promise<Readiness>;
  /** Credentials the service holds for other services to inject (the `keyring` service). */
  readonly credentials?: CredentialSource;
  /** Releases what the service holds (sessions are closed by the gateway before this). */
  close?(): Promise<void>;
}

/** A service type: a line in the registry (`src/services/index.ts`). */
export interface ServiceType<P = unknown> {
  readonly type: string;
  /**
   * Accept URI schemes: `ws` (WebSocket sessions), `http` (requests), `tcp` (sessions over a plain
   * byte stream, one listener per host and port); `wss`/`https`/`tls` follow. A type that takes
   * `tcp` frames the client's bytes itself: they arrive as read, split anywhere.
   */
  readonly accepts: readonly ('ws' | 'http' | 'tcp')[];
  /**
   * Set when the type authenticates a session from credentials in its own protocol, through
   * `Session.login` (`stomp.jms`: the CONNECT frame's `login` and `passcode`). Only such a type
   * may be guarded (`auth:`) and take `tcp://` or `tls://` accept URIs, which have no HTTP upgrade.
   */
  readonly protocolLogin?: boolean;
  /** Whether `connect` is required, and which schemes it takes. */
  readonly connect: { readonly required: boolean; readonly schemes: readonly string[] } | null;
  /**
   * Paths below the mount this type answers exactly (`/health` under `/`). They win over any prefix
   * mount, so a management service and a directory can share `/`. Absent: the whole mount (prefix).
   */
  readonly exactPaths?: readonly string[];
  /** Subprotocols spoken when the service's configuration lists none, in order of preference. */
  readonly defaultSubprotocols?: readonly string[];
  /** Set when the type only makes sense behind `auth`: why, for the configuration error. */
  readonly requiresAuth?: string;
  /** Schema of `properties` (defaults applied by the schema). */
  readonly properties: z.ZodType<P>;
  create(ctx: ServiceContext<P>): Service;
}
