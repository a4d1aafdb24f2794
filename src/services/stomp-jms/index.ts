import { randomBytes } from 'node:crypto';
import { BINDINGS, bindingForScheme, type BindingEntry } from '../../../adapters';
import type { BindingOptions } from '../../../adapters/jms';
import type { Session } from '../../session';
import type { Readiness, Service, ServiceConfig, ServiceType } from '../types';
import { StompJmsConnection, StompJmsError, type Peaks, type ServiceContext } from './connection';
import { STOMP_JMS_ERRORS } from './errors';
import { SubscriptionHub } from './hub';
import { Member } from './pool';
import { conflationTest, stompJmsPropertiesSchema, type StompJmsProperties } from './properties';

export { STOMP_JMS_ERRORS } from './errors';
export { STOMP_JMS_DEFAULTS, type StompJmsProperties } from './properties';

/** The running `stomp.jms` service, with counters tests and metrics read. */
export interface StompJmsService extends Service {
  /** Shared broker subscriptions open now (one per destination and selector). */
  sharedSubscriptions(): number;
  /** Client connections open now. */
  connections(): number;
  /** Broker connections of the pool that are up. */
  brokerConnectionsUp(): number;
  /**
   * The most any one session (open or ended) has held for its client: bytes handed to its
   * connection and not yet written out (bounded by `limits.maxBufferedBytes` plus one frame), and
   * frames queued while it did not drain (bounded by `maxQueuedMessages` plus one).
   */
  peaks(): Peaks;
}

function bindingOf(config: ServiceConfig<StompJmsProperties>): [string, BindingEntry] {
  const url = config.connect as URL;
  const name = config.properties.binding ?? bindingForScheme(url.protocol) ?? 'stomp';
  return [name, BINDINGS.get(name) as BindingEntry];
}

/**
 * `stomp.jms`: Gangway is a STOMP 1.0–1.2 server to WebSocket clients, and to clients over plain
 * TCP or TLS on `tcp://` and `tls://` accept URIs (who log in with CONNECT `login` and `passcode`
 * on a guarded service), and carries their frames to a JMS-style broker through a binding
 * (ActiveMQ over STOMP, RabbitMQ over AMQP 0-9-1 or AMQP 1.0), sharing a bounded pool of broker
 * connections and one broker subscription per topic and selector among all clients.
 */
export const stompJmsType: ServiceType<StompJmsProperties> = {
  type: 'stomp.jms',
  accepts: ['ws', 'tcp'],
  protocolLogin: true,
  connect: { required: true, schemes: ['stomp', 'amqp', 'amqp10'] },
  defaultSubprotocols: ['v12.stomp', 'v11.stomp', 'v10.stomp'],
  properties: stompJmsPropertiesSchema,
  create({ config, log }): StompJmsService {
    const props = config.properties;
    const [bindingName, entry] = bindingOf(config);
    const url = config.connect as URL;
    const base: BindingOptions = {
      url,
      ...(props.credentials ? { username: props.credentials.username, password: props.credentials.password } : {}),
      ...(props.virtualHost === undefined ? {} : { virtualHost: props.virtualHost }),
      heartbeatMs: props.brokerHeartbeatMs,
      connectTimeoutMs: config.limits.connectTimeoutMs,
    };
    const members = Array.from({ length: props.poolSize }, (_, i) => new Member(i, entry.create, base, props.reconnect, log));
    const dedicated = new Set<Member>();
    const hub = new SubscriptionHub(members, config.limits.connectTimeoutMs);
    const connections = new Set<StompJmsConnection>();
    const endedPeaks: Peaks = { bufferedBytes: 0, heldFrames: 0 };
    let rr = 0;
    const ctx: ServiceContext = {
      props,
      hub,
      capabilities: entry.capabilities,
      bindingName,
      instance: randomBytes(4).toString('hex'),
      conflatable: conflationTest(props.conflate),
      log,
      codecLimits: { maxFrameSize: config.limits.maxMessageBytes, maxBodySize: config.limits.maxMessageBytes },
      connections,
      endedPeaks,
      nextMember: () => members[rr++ % members.length] as Member,
      dedicatedMember: (clientId: string) => {
        if (dedicated.size >= props.maxDedicatedConnections) {
          throw new StompJmsError(STOMP_JMS_ERRORS.LIMIT, 'too many durable subscription connections', `the service holds ${dedicated.size} broker connections for durable subscriptions (maxDedicatedConnections); try again later`);
        }
        const m = new Member(-1, entry.create, { ...base, clientId }, props.reconnect, log);
        dedicated.add(m);
        m.start();
        return m;
      },
      releaseDedicated: async (m: Member) => {
        dedicated.delete(m);
        await m.close();
      },
    };

    return {
      config,
      handleSession(session: Session): void {
        new StompJmsConnection(session, ctx);
      },
      async ready(): Promise<Readiness> {
        try {
          await (members[0] as Member).ready(Math.min(2000, config.limits.connectTimeoutMs));
          return { ok: true };
        } catch (err) {
          return { ok: false, detail: err instanceof Error ? err.message : String(err) };
        }
      },
      async close(): Promise<void> {
        await Promise.all([...members, ...dedicated].map((m) => m.close()));
      },
      sharedSubscriptions: () => hub.size,
      connections: () => connections.size,
      brokerConnectionsUp: () => members.filter((m) => m.connected).length,
      peaks: () => {
        const p = { ...endedPeaks };
        for (const c of connections) {
          p.bufferedBytes = Math.max(p.bufferedBytes, c.peaks.bufferedBytes);
          p.heldFrames = Math.max(p.heldFrames, c.peaks.heldFrames);
        }
        return p;
      },
    };
  },
};
