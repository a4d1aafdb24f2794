/**
 * The STOMP error catalogue. Codes are stable; every code is documented in this folder's README.
 *
 * Conditions: `malformed-frame` (1002), `invalid-utf8` (1007), `not-allowed` (1008),
 * `limit-exceeded` (1009), `unsupported-version` (1002).
 */
import type { ErrorSpec } from '../types';

/** Every error the STOMP codec raises, by name: stable code, summary, WebSocket close code, condition. */
export const ERRORS = {
  FRAME_TOO_LARGE: {
    code: 'GW_ERR_STOMP_FRAME_TOO_LARGE',
    summary: 'Frame larger than maxFrameSize',
    close: 1009,
    condition: 'limit-exceeded',
  },
  BODY_TOO_LARGE: {
    code: 'GW_ERR_STOMP_BODY_TOO_LARGE',
    summary: 'Frame body larger than maxBodySize',
    close: 1009,
    condition: 'limit-exceeded',
  },
  TOO_MANY_HEADERS: {
    code: 'GW_ERR_STOMP_TOO_MANY_HEADERS',
    summary: 'More header lines than maxHeaders',
    close: 1009,
    condition: 'limit-exceeded',
  },
  HEADER_LINE_TOO_LONG: {
    code: 'GW_ERR_STOMP_HEADER_LINE_TOO_LONG',
    summary: 'Header line longer than maxHeaderLineLength',
    close: 1009,
    condition: 'limit-exceeded',
  },
  COMMAND_TOO_LONG: {
    code: 'GW_ERR_STOMP_COMMAND_TOO_LONG',
    summary: 'Command line longer than maxCommandLength',
    close: 1009,
    condition: 'limit-exceeded',
  },
  UNKNOWN_COMMAND: {
    code: 'GW_ERR_STOMP_UNKNOWN_COMMAND',
    summary: 'Unknown STOMP command',
    close: 1002,
    condition: 'malformed-frame',
  },
  COMMAND_NOT_ALLOWED: {
    code: 'GW_ERR_STOMP_COMMAND_NOT_ALLOWED',
    summary: 'Command not allowed in this direction or version',
    close: 1008,
    condition: 'not-allowed',
  },
  UNEXPECTED_FRAME: {
    code: 'GW_ERR_STOMP_UNEXPECTED_FRAME',
    summary: 'Frame out of sequence for the session',
    close: 1008,
    condition: 'not-allowed',
  },
  NUL_IN_HEADERS: {
    code: 'GW_ERR_STOMP_NUL_IN_HEADERS',
    summary: 'NUL byte in the command or header lines',
    close: 1002,
    condition: 'malformed-frame',
  },
  STRAY_CR: {
    code: 'GW_ERR_STOMP_STRAY_CR',
    summary: 'CR that is not part of an allowed CRLF end of line',
    close: 1002,
    condition: 'malformed-frame',
  },
  BAD_HEADER: {
    code: 'GW_ERR_STOMP_BAD_HEADER',
    summary: 'Header line without a colon or with an empty name',
    close: 1002,
    condition: 'malformed-frame',
  },
  BAD_ESCAPE: {
    code: 'GW_ERR_STOMP_BAD_ESCAPE',
    summary: 'Undefined escape sequence in a header',
    close: 1002,
    condition: 'malformed-frame',
  },
  MISSING_HEADER: {
    code: 'GW_ERR_STOMP_MISSING_HEADER',
    summary: 'Required header missing',
    close: 1002,
    condition: 'malformed-frame',
  },
  BAD_HEADER_VALUE: {
    code: 'GW_ERR_STOMP_BAD_HEADER_VALUE',
    summary: 'Invalid content-length, heart-beat, accept-version or version value',
    close: 1002,
    condition: 'malformed-frame',
  },
  UNEXPECTED_BODY: {
    code: 'GW_ERR_STOMP_UNEXPECTED_BODY',
    summary: 'Body on a command that must not have one',
    close: 1002,
    condition: 'malformed-frame',
  },
  MISSING_NUL: {
    code: 'GW_ERR_STOMP_MISSING_NUL',
    summary: 'Byte after a content-length body is not NUL',
    close: 1002,
    condition: 'malformed-frame',
  },
  UNSUPPORTED_VERSION: {
    code: 'GW_ERR_STOMP_UNSUPPORTED_VERSION',
    summary: 'No supported or agreed STOMP version',
    close: 1002,
    condition: 'unsupported-version',
  },
  BAD_UTF8: {
    code: 'GW_ERR_STOMP_BAD_UTF8',
    summary: 'Command or headers are not valid UTF-8',
    close: 1007,
    condition: 'invalid-utf8',
  },
} as const satisfies Record<string, ErrorSpec>;

/** Catalogue entry for a code, for building replies. */
export const ERROR_BY_CODE: ReadonlyMap<string, ErrorSpec> = new Map(Object.values(ERRORS).map((e) => [e.code, e]));
