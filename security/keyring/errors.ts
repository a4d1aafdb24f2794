/**
 * The keyring's error catalogue: stable codes in the same shape as the security library's
 * (`SecurityErrorSpec`). Every code is documented in security/keyring/README.md (a test checks).
 * Messages name users, services, key ids and files — never a secret or key material.
 */

/** One catalogue entry. */
export interface KeyringErrorSpec {
  readonly code: string;
  readonly summary: string;
  /** HTTP status when the error answers a keyring API request. */
  readonly status: number;
}

const spec = <T extends Record<string, KeyringErrorSpec>>(t: T): T => t;

/** Every keyring error code. */
export const KEYRING_ERRORS = spec({
  INVALID: { code: 'GW_ERR_KEYRING_INVALID', status: 400, summary: 'a user name, service name or credential is not acceptable (empty, too long, wrong characters or wrong fields)' },
  LIMIT: { code: 'GW_ERR_KEYRING_LIMIT', status: 409, summary: 'the user already stores the maximum number of credentials, or the credential is larger than allowed' },
  NOT_FOUND: { code: 'GW_ERR_KEYRING_NOT_FOUND', status: 404, summary: 'the user stores no credential for the service' },
  KEY_SOURCE: { code: 'GW_ERR_KEYRING_KEY_SOURCE', status: 500, summary: 'the master key cannot be loaded: missing file or variable, wrong length, passphrase too short, unsafe scrypt parameters' },
  WRONG_KEY: { code: 'GW_ERR_KEYRING_WRONG_KEY', status: 500, summary: 'the master key given is not the key the keyring is encrypted under (its key id differs)' },
  KEY_UNKNOWN: { code: 'GW_ERR_KEYRING_KEY_UNKNOWN', status: 500, summary: 'a record is encrypted under a key id that was not loaded' },
  KEY_RETIRED: { code: 'GW_ERR_KEYRING_KEY_RETIRED', status: 500, summary: 'a key, or a record encrypted under it, belongs to a key retired by a completed rotation' },
  TAMPERED: { code: 'GW_ERR_KEYRING_TAMPERED', status: 500, summary: 'a record failed authentication: its ciphertext, nonce, tag or metadata were altered, or it was moved to another user or service' },
  MALFORMED: { code: 'GW_ERR_KEYRING_MALFORMED', status: 500, summary: 'the store or a record in it does not have the keyring format (bad JSON, missing fields, wrong nonce or tag length)' },
  ROTATION: { code: 'GW_ERR_KEYRING_ROTATION', status: 503, summary: 'a rotation is unfinished or another process rotated the keyring; open it with the new key (and the old one until the rotation completes)' },
  STORE: { code: 'GW_ERR_KEYRING_STORE', status: 503, summary: 'the store cannot be read or written (I/O error, lock held too long, Redis unreachable)' },
});

/** Names of the catalogue entries. */
export type KeyringErrorName = keyof typeof KEYRING_ERRORS;

/** An error of the keyring, carrying its catalogue code and HTTP status. */
export class KeyringError extends Error {
  /** Stable code from {@link KEYRING_ERRORS}. */
  readonly code: string;
  /** HTTP status the keyring API answers with. */
  readonly status: number;

  constructor(name: KeyringErrorName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyringError';
    this.code = KEYRING_ERRORS[name].code;
    this.status = KEYRING_ERRORS[name].status;
  }

  /** Whether `err` is a keyring error of catalogue entry `name`. */
  static is(err: unknown, name: KeyringErrorName): err is KeyringError {
    return err instanceof KeyringError && err.code === KEYRING_ERRORS[name].code;
  }
}

/** The message of any thrown value, for logs (never the value itself). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
