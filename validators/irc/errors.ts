/**
 * The IRC error catalogue. Codes are stable; every code is documented in this folder's README.
 *
 * `condition` is the IRC numeric that matches the violation where one exists (417
 * ERR_INPUTTOOLONG, 421 ERR_UNKNOWNCOMMAND), otherwise `ERROR`.
 */
import type { ErrorSpec } from '../types';

/** Every error the IRC codec raises, by name: stable code, summary, WebSocket close code, condition. */
export const ERRORS = {
  LINE_TOO_LONG: {
    code: 'GW_ERR_IRC_LINE_TOO_LONG',
    summary: 'Message without tags longer than maxMessageBytes (including CRLF)',
    close: 1009,
    condition: '417',
  },
  TAGS_TOO_LONG: {
    code: 'GW_ERR_IRC_TAGS_TOO_LONG',
    summary: 'Message tags longer than the tag limit for the direction',
    close: 1009,
    condition: '417',
  },
  TOO_MANY_PARAMS: {
    code: 'GW_ERR_IRC_TOO_MANY_PARAMS',
    summary: 'More parameters than maxParams',
    close: 1009,
    condition: 'ERROR',
  },
  FORBIDDEN_CHAR: {
    code: 'GW_ERR_IRC_FORBIDDEN_CHAR',
    summary: 'NUL, bare CR, or a line break where none may be',
    close: 1008,
    condition: 'ERROR',
  },
  BAD_TAG: {
    code: 'GW_ERR_IRC_BAD_TAG',
    summary: 'Malformed message tags',
    close: 1002,
    condition: 'ERROR',
  },
  BAD_PREFIX: {
    code: 'GW_ERR_IRC_BAD_PREFIX',
    summary: 'Malformed prefix',
    close: 1002,
    condition: 'ERROR',
  },
  MISSING_COMMAND: {
    code: 'GW_ERR_IRC_MISSING_COMMAND',
    summary: 'Message without a command',
    close: 1002,
    condition: 'ERROR',
  },
  BAD_COMMAND: {
    code: 'GW_ERR_IRC_BAD_COMMAND',
    summary: 'Command is neither letters nor three digits',
    close: 1002,
    condition: '421',
  },
  COMMAND_NOT_ALLOWED: {
    code: 'GW_ERR_IRC_COMMAND_NOT_ALLOWED',
    summary: 'Numeric reply sent by a client',
    close: 1008,
    condition: '421',
  },
  CLIENT_PREFIX: {
    code: 'GW_ERR_IRC_CLIENT_PREFIX',
    summary: 'Prefix sent by a client',
    close: 1008,
    condition: 'ERROR',
  },
  BAD_UTF8: {
    code: 'GW_ERR_IRC_BAD_UTF8',
    summary: 'Message is not valid UTF-8',
    close: 1007,
    condition: 'ERROR',
  },
} as const satisfies Record<string, ErrorSpec>;

/** Catalogue entry for a code, for building replies. */
export const ERROR_BY_CODE: ReadonlyMap<string, ErrorSpec> = new Map(Object.values(ERRORS).map((e) => [e.code, e]));
