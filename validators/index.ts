import type { ProtocolModule, ProtocolName } from './types';
import { protocol as stomp } from './stomp';
import { protocol as amqp091 } from './amqp091';
import { protocol as amqp10 } from './amqp10';
import { protocol as xmpp } from './xmpp';
import { protocol as irc } from './irc';

export * from './types';

/** Validators by protocol name: a new protocol is a folder implementing the seam and a line here. */
export const PROTOCOLS: ReadonlyMap<ProtocolName, ProtocolModule> = new Map<ProtocolName, ProtocolModule>([
  ['stomp', stomp as ProtocolModule],
  ['amqp091', amqp091 as ProtocolModule],
  ['amqp10', amqp10 as ProtocolModule],
  ['xmpp', xmpp as ProtocolModule],
  ['irc', irc as ProtocolModule],
]);
