/**
 * Error catalogue of the AMQP 0-9-1 validator.
 *
 * `condition` is the reply-code name of the Connection.Close sent back (AMQP 0-9-1 §1.9, "Constants"),
 * or `protocol-header` where the spec's answer is the protocol header itself (§4.2.2).
 */
import type { ErrorSpec } from '../types';

export const ERRORS = {
  BAD_PROTOCOL_HEADER: {
    code: 'GW_ERR_AMQP091_BAD_PROTOCOL_HEADER',
    summary: 'The connection did not start with the protocol header "AMQP".',
    close: 1002,
    condition: 'protocol-header',
  },
  UNSUPPORTED_VERSION: {
    code: 'GW_ERR_AMQP091_UNSUPPORTED_VERSION',
    summary: 'The protocol header names an AMQP version other than 0-9-1.',
    close: 1002,
    condition: 'protocol-header',
  },
  UNKNOWN_FRAME_TYPE: {
    code: 'GW_ERR_AMQP091_UNKNOWN_FRAME_TYPE',
    summary: 'The frame type is not method (1), header (2), body (3) or heartbeat (8).',
    close: 1002,
    condition: 'frame-error',
  },
  BAD_FRAME_END: {
    code: 'GW_ERR_AMQP091_BAD_FRAME_END',
    summary: 'The octet after the payload is not the frame-end 0xCE.',
    close: 1002,
    condition: 'frame-error',
  },
  FRAME_TOO_LARGE: {
    code: 'GW_ERR_AMQP091_FRAME_TOO_LARGE',
    summary: 'The frame is larger than the negotiated frame-max (or the pre-tune maximum, or the gateway limit).',
    close: 1009,
    condition: 'frame-error',
  },
  BAD_HEARTBEAT: {
    code: 'GW_ERR_AMQP091_BAD_HEARTBEAT',
    summary: 'A heartbeat frame on a channel other than 0 or with a payload.',
    close: 1002,
    condition: 'frame-error',
  },
  CHANNEL_OUT_OF_RANGE: {
    code: 'GW_ERR_AMQP091_CHANNEL_OUT_OF_RANGE',
    summary: 'The channel number is above the negotiated channel-max or the gateway limit.',
    close: 1008,
    condition: 'not-allowed',
  },
  WRONG_CHANNEL: {
    code: 'GW_ERR_AMQP091_WRONG_CHANNEL',
    summary: 'A connection method on a channel other than 0, or another frame on channel 0.',
    close: 1002,
    condition: 'command-invalid',
  },
  UNKNOWN_METHOD: {
    code: 'GW_ERR_AMQP091_UNKNOWN_METHOD',
    summary: 'The class id or method id is not one of connection, channel, exchange, queue, basic, confirm, tx.',
    close: 1002,
    condition: 'not-implemented',
  },
  WRONG_DIRECTION: {
    code: 'GW_ERR_AMQP091_WRONG_DIRECTION',
    summary: 'A method the sender must not send (a client sending Connection.Start, a server sending Basic.Publish).',
    close: 1002,
    condition: 'command-invalid',
  },
  MALFORMED_PAYLOAD: {
    code: 'GW_ERR_AMQP091_MALFORMED_PAYLOAD',
    summary: 'Method arguments or content properties end before their declared fields.',
    close: 1002,
    condition: 'frame-error',
  },
  TRAILING_BYTES: {
    code: 'GW_ERR_AMQP091_TRAILING_BYTES',
    summary: 'Bytes left in a method or content header payload after its last field.',
    close: 1002,
    condition: 'frame-error',
  },
  BAD_FIELD_VALUE: {
    code: 'GW_ERR_AMQP091_BAD_FIELD_VALUE',
    summary: 'A field table or array holds an unknown field value type.',
    close: 1002,
    condition: 'syntax-error',
  },
  FIELD_TOO_DEEP: {
    code: 'GW_ERR_AMQP091_FIELD_TOO_DEEP',
    summary: 'Field tables and arrays nest deeper than the limit.',
    close: 1008,
    condition: 'syntax-error',
  },
  HANDSHAKE_ORDER: {
    code: 'GW_ERR_AMQP091_HANDSHAKE_ORDER',
    summary: 'A frame out of the connection handshake order (start, start-ok, secure, tune, tune-ok, open, open-ok).',
    close: 1002,
    condition: 'command-invalid',
  },
  BAD_TUNE: {
    code: 'GW_ERR_AMQP091_BAD_TUNE',
    summary: 'Tune or Tune-Ok values out of range (frame-max below 4096, above the server proposal).',
    close: 1002,
    condition: 'not-allowed',
  },
  UNEXPECTED_FRAME: {
    code: 'GW_ERR_AMQP091_UNEXPECTED_FRAME',
    summary: 'A frame out of content sequence (header or body not expected, method inside content) or after Connection.Close.',
    close: 1002,
    condition: 'unexpected-frame',
  },
  BAD_CONTENT_HEADER: {
    code: 'GW_ERR_AMQP091_BAD_CONTENT_HEADER',
    summary: 'A content header whose class id does not match the method, whose weight is not 0, or with unknown property flags.',
    close: 1002,
    condition: 'frame-error',
  },
  BODY_OVERFLOW: {
    code: 'GW_ERR_AMQP091_BODY_OVERFLOW',
    summary: 'Body frames carry more bytes than the body size declared in the content header.',
    close: 1002,
    condition: 'frame-error',
  },
  BODY_TOO_LARGE: {
    code: 'GW_ERR_AMQP091_BODY_TOO_LARGE',
    summary: 'The body size declared in the content header is above the gateway limit.',
    close: 1009,
    condition: 'not-allowed',
  },
} as const satisfies Record<string, ErrorSpec>;

/** One entry of {@link ERRORS}. */
export type Amqp091ErrorSpec = (typeof ERRORS)[keyof typeof ERRORS];

/** AMQP 0-9-1 reply codes by name (amqp0-9-1.xml, constants), used in Connection.Close. */
export const REPLY_CODES: Readonly<Record<string, number>> = {
  'content-too-large': 311,
  'no-route': 312,
  'no-consumers': 313,
  'connection-forced': 320,
  'invalid-path': 402,
  'access-refused': 403,
  'not-found': 404,
  'resource-locked': 405,
  'precondition-failed': 406,
  'frame-error': 501,
  'syntax-error': 502,
  'command-invalid': 503,
  'channel-error': 504,
  'unexpected-frame': 505,
  'resource-error': 506,
  'not-allowed': 530,
  'not-implemented': 540,
  'internal-error': 541,
};
