import type { GatewayErrorSpec } from '../../errors';

/**
 * Errors of the `stomp.jms` service. Each ends the session with a STOMP ERROR frame (its
 * `message` header says what happened) and then the WebSocket close code below.
 */
export const STOMP_JMS_ERRORS = {
  BAD_FRAME: { code: 'GW_ERR_STOMP_JMS_BAD_FRAME', close: 1008, summary: 'a valid STOMP frame the service cannot carry out: unknown destination form, duplicate or unknown subscription or transaction id, bad header value' },
  UNSUPPORTED: { code: 'GW_ERR_STOMP_JMS_UNSUPPORTED', close: 1008, summary: 'the broker binding lacks what the frame asks for (selectors, durable subscriptions)' },
  LIMIT: { code: 'GW_ERR_STOMP_JMS_LIMIT', close: 1008, summary: 'a limit was reached: maxSubscriptions, maxTransactions or maxTransactionFrames of the session, or maxDedicatedConnections of the service' },
  BROKER_REFUSED: { code: 'GW_ERR_STOMP_JMS_BROKER_REFUSED', close: 1011, summary: 'the broker refused an operation (SEND, SUBSCRIBE, COMMIT) or ended a subscription' },
  BROKER_UNAVAILABLE: { code: 'GW_ERR_STOMP_JMS_BROKER_UNAVAILABLE', close: 1011, summary: 'no broker connection could be had within connectTimeoutMs' },
  BROKER_LOST: { code: 'GW_ERR_STOMP_JMS_BROKER_LOST', close: 1011, summary: 'a broker connection of the session failed and brokerFailure is "close"' },
  SLOW_CONSUMER: { code: 'GW_ERR_STOMP_JMS_SLOW_CONSUMER', close: 1008, summary: 'more than maxQueuedMessages messages were held for a session that does not drain, for a destination that is not conflatable' },
  HEARTBEAT_TIMEOUT: { code: 'GW_ERR_STOMP_JMS_HEARTBEAT_TIMEOUT', close: 1001, summary: 'nothing came from the client for twice the negotiated heart-beat interval' },
} as const satisfies Record<string, GatewayErrorSpec>;

export type StompJmsErrorSpec = (typeof STOMP_JMS_ERRORS)[keyof typeof STOMP_JMS_ERRORS];
