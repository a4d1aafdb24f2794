import type { ProtocolName } from '../../../validators/types';
import type { Corpus } from '../../fuzz/fuzz';
import { corpus as stomp } from './stomp';
import { corpus as amqp091 } from './amqp091';
import { corpus as amqp10 } from './amqp10';
import { corpus as xmpp } from './xmpp';
import { corpus as irc } from './irc';
import { DEFAULT_LIMITS as STOMP_LIMITS } from '../../../validators/stomp';
import { DEFAULT_LIMITS as AMQP091_LIMITS } from '../../../validators/amqp091';
import { DEFAULT_LIMITS as AMQP10_LIMITS } from '../../../validators/amqp10';
import { DEFAULT_LIMITS as XMPP_LIMITS } from '../../../validators/xmpp';
import { DEFAULT_LIMITS as IRC_LIMITS } from '../../../validators/irc';

/**
 * Valid streams per protocol for fuzzing and property tests, each with the most a codec with the
 * default limits may hold: the limit that bounds what it buffers for one unit.
 *
 * - STOMP: one frame (`maxFrameSize`).
 * - AMQP 0-9-1 and AMQP 1.0: one frame (`maxFrameSize`; the frame-max or max-frame-size the peers
 *   negotiate, and the smaller limit before tuning or open, only lower it).
 * - XMPP: one top-level unit (`maxStanzaBytes`).
 * - IRC: one line, whose tags section and message have limits of their own.
 */
export const CORPORA: Readonly<Record<ProtocolName, Corpus>> = {
  stomp: { ...stomp, maxBuffered: STOMP_LIMITS.maxFrameSize },
  amqp091: { ...amqp091, maxBuffered: AMQP091_LIMITS.maxFrameSize },
  amqp10: { ...amqp10, maxBuffered: AMQP10_LIMITS.maxFrameSize },
  xmpp: { ...xmpp, maxBuffered: XMPP_LIMITS.maxStanzaBytes },
  irc: { ...irc, maxBuffered: IRC_LIMITS.maxTagBytes + IRC_LIMITS.maxMessageBytes },
};
