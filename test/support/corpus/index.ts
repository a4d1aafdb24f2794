import type { ProtocolName } from '../../../validators/types';
import type { Corpus } from '../../fuzz/fuzz';
import { corpus as stomp } from './stomp';
import { corpus as amqp091 } from './amqp091';
import { corpus as amqp10 } from './amqp10';
import { corpus as xmpp } from './xmpp';
import { corpus as ircStreams } from './irc';
import { DEFAULT_LIMITS as IRC_LIMITS } from '../../../validators/irc';

/** Valid streams per protocol for fuzzing and property tests. */
/** An IRC line holds a tags section and a message, each with its own limit. */
const irc: Corpus = { ...ircStreams, maxBuffered: IRC_LIMITS.maxTagBytes + IRC_LIMITS.maxMessageBytes };

export const CORPORA: Readonly<Record<ProtocolName, Corpus>> = { stomp, amqp091, amqp10, xmpp, irc };
