import type { ServiceType } from './types';
import { echoType } from './echo';
import { directoryType } from './directory';
import { managementType } from './management';
import { proxyType } from './proxy';
import { wireProxyType } from './wire/factory';
import { stompProxy } from './wire/stomp';
import { amqpProxy } from './wire/amqp';
import { ircProxy } from './wire/irc';
import { xmppProxy } from './wire/xmpp';
import { stompJmsType } from './stomp-jms';
import { keyringType } from './keyring';

/** Service types by name: a new type is one file in this folder and one line here. */
export const SERVICE_TYPES: ReadonlyMap<string, ServiceType> = new Map<string, ServiceType>(
  [echoType, directoryType, managementType, proxyType, wireProxyType(stompProxy), wireProxyType(amqpProxy), wireProxyType(ircProxy), wireProxyType(xmppProxy), stompJmsType as ServiceType, keyringType as ServiceType].map((t) => [
    t.type,
    t as ServiceType,
  ]),
);
