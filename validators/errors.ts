import type { ErrorSpec, ProtocolName } from './types';
import { ERRORS as stomp } from './stomp/errors';
import { ERRORS as amqp091 } from './amqp091/errors';
import { ERRORS as amqp10 } from './amqp10/errors';
import { ERRORS as xmpp } from './xmpp/errors';
import { ERRORS as irc } from './irc/errors';

/** The wire-format error catalogue: every code a validator can raise, by protocol. */
export const WIRE_ERRORS: Readonly<Record<ProtocolName, Readonly<Record<string, ErrorSpec>>>> = { stomp, amqp091, amqp10, xmpp, irc };
