/**
 * Error catalogue of the AMQP 1.0 validator.
 *
 * `condition` is the error condition symbol of the close performative sent back (OASIS AMQP 1.0
 * part 2 §2.8.15, §2.8.16), or `protocol-header` where the spec's answer is the protocol header
 * naming the supported version (part 2 §2.2).
 */
import type { ErrorSpec } from '../types';

export const ERRORS = {
  BAD_PROTOCOL_HEADER: {
    code: 'GW_ERR_AMQP10_BAD_PROTOCOL_HEADER',
    summary: 'The connection did not start with the protocol header "AMQP".',
    close: 1002,
    condition: 'protocol-header',
  },
  UNSUPPORTED_VERSION: {
    code: 'GW_ERR_AMQP10_UNSUPPORTED_VERSION',
    summary: 'The protocol header names a version other than 1.0.0 or an unknown protocol id.',
    close: 1002,
    condition: 'protocol-header',
  },
  TLS_NOT_SUPPORTED: {
    code: 'GW_ERR_AMQP10_TLS_NOT_SUPPORTED',
    summary: 'The TLS protocol header (id 2): TLS is terminated by the gateway, not negotiated in-band.',
    close: 1008,
    condition: 'protocol-header',
  },
  UNEXPECTED_HEADER: {
    code: 'GW_ERR_AMQP10_UNEXPECTED_HEADER',
    summary: 'A protocol header out of order (SASL header after SASL, AMQP header before the SASL outcome).',
    close: 1002,
    condition: 'amqp:connection:framing-error',
  },
  FRAME_TOO_LARGE: {
    code: 'GW_ERR_AMQP10_FRAME_TOO_LARGE',
    summary: "The frame is larger than the receiving peer's max-frame-size, the pre-open maximum or the gateway limit.",
    close: 1009,
    condition: 'amqp:connection:framing-error',
  },
  BAD_FRAME_HEADER: {
    code: 'GW_ERR_AMQP10_BAD_FRAME_HEADER',
    summary: 'Frame size below 8, data offset below 2 or beyond the frame.',
    close: 1002,
    condition: 'amqp:connection:framing-error',
  },
  UNKNOWN_FRAME_TYPE: {
    code: 'GW_ERR_AMQP10_UNKNOWN_FRAME_TYPE',
    summary: 'The frame type is neither AMQP (0x00) nor SASL (0x01).',
    close: 1002,
    condition: 'amqp:connection:framing-error',
  },
  WRONG_LAYER: {
    code: 'GW_ERR_AMQP10_WRONG_LAYER',
    summary: 'A SASL frame after the AMQP header, or an AMQP frame during SASL.',
    close: 1002,
    condition: 'amqp:connection:framing-error',
  },
  DECODE_ERROR: {
    code: 'GW_ERR_AMQP10_DECODE_ERROR',
    summary: 'A value that cannot be decoded: unknown constructor, size or count beyond its bounds, odd map count, bad char.',
    close: 1002,
    condition: 'amqp:decode-error',
  },
  INVALID_UTF8: {
    code: 'GW_ERR_AMQP10_INVALID_UTF8',
    summary: 'A string (str8/str32) that is not valid UTF-8.',
    close: 1007,
    condition: 'amqp:decode-error',
  },
  INVALID_SYMBOL: {
    code: 'GW_ERR_AMQP10_INVALID_SYMBOL',
    summary: 'A symbol (sym8/sym32) with a byte outside ASCII.',
    close: 1002,
    condition: 'amqp:decode-error',
  },
  TOO_DEEP: {
    code: 'GW_ERR_AMQP10_TOO_DEEP',
    summary: 'Compound and described values nest deeper than the limit.',
    close: 1008,
    condition: 'amqp:resource-limit-exceeded',
  },
  TOO_MANY_ELEMENTS: {
    code: 'GW_ERR_AMQP10_TOO_MANY_ELEMENTS',
    summary: 'A list, map or array declares more elements than the limit.',
    close: 1008,
    condition: 'amqp:resource-limit-exceeded',
  },
  NOT_A_PERFORMATIVE: {
    code: 'GW_ERR_AMQP10_NOT_A_PERFORMATIVE',
    summary: 'The frame body is not a described list with a known performative (0x10-0x18) or SASL (0x40-0x44) descriptor.',
    close: 1002,
    condition: 'amqp:decode-error',
  },
  INVALID_FIELD: {
    code: 'GW_ERR_AMQP10_INVALID_FIELD',
    summary: 'A mandatory field is missing, a field has the wrong type, or the list has more fields than defined.',
    close: 1002,
    condition: 'amqp:invalid-field',
  },
  TRAILING_BYTES: {
    code: 'GW_ERR_AMQP10_TRAILING_BYTES',
    summary: 'Bytes after the performative of a frame other than transfer.',
    close: 1002,
    condition: 'amqp:decode-error',
  },
  ILLEGAL_STATE: {
    code: 'GW_ERR_AMQP10_ILLEGAL_STATE',
    summary: 'A performative out of order: not open first, open twice, anything after close, a session frame on a channel not begun, SASL order.',
    close: 1002,
    condition: 'amqp:illegal-state',
  },
  CHANNEL_OUT_OF_RANGE: {
    code: 'GW_ERR_AMQP10_CHANNEL_OUT_OF_RANGE',
    summary: "The channel is above the receiving peer's channel-max or the gateway limit.",
    close: 1008,
    condition: 'amqp:not-allowed',
  },
  FRAME_SIZE_TOO_SMALL: {
    code: 'GW_ERR_AMQP10_FRAME_SIZE_TOO_SMALL',
    summary: 'An open announces a max-frame-size below the minimum 512.',
    close: 1002,
    condition: 'amqp:frame-size-too-small',
  },
  MESSAGE_TOO_LARGE: {
    code: 'GW_ERR_AMQP10_MESSAGE_TOO_LARGE',
    summary: 'A delivery (transfer payloads joined by the more flag) is larger than the gateway limit.',
    close: 1009,
    condition: 'amqp:link:message-size-exceeded',
  },
} as const satisfies Record<string, ErrorSpec>;

/** One entry of {@link ERRORS}. */
export type Amqp10ErrorSpec = (typeof ERRORS)[keyof typeof ERRORS];
