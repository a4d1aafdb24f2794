import type { ProtocolName } from '../../../validators/types';
import type { Corpus } from '../../fuzz/fuzz';
import { corpus as stomp } from './stomp';
import { corpus as amqp091 } from './amqp091';
import { corpus as amqp10 } from './amqp10';
import { corpus as xmpp } from './xmpp';
import { corpus as irc } from './irc';

/** Valid streams per protocol for fuzzing and property tests. */
export const CORPORA: Readonly<Record<ProtocolName, Corpus>> = { stomp, amqp091, amqp10, xmpp, irc };
