/**
 * Credential injection: the seam between the protocol proxies, which put a credential into the
 * client's login on its way to the back end, and the stores that hold credentials (the service's
 * own properties, or the per-user keyring).
 */
import { z } from 'zod';

/** A user name and password for a back end. */
export interface Credential {
  readonly username: string;
  readonly password: string;
}

/**
 * Where a session's back-end credential comes from. `user` is the session's authenticated user
 * (`session.subject.user`), `null` on an unguarded service; `service` is the service's name.
 * Resolves `null` when there is no credential for that pair.
 */
export interface CredentialSource {
  lookup(user: string | null, service: string): Promise<Credential | null>;
}

/** The keys of `properties.inject` every protocol proxy takes; a proxy may add its own (irc.proxy: `login`). */
export const injectShape = {
  /** `service`: the `username`/`password` below; `keyring`: the authenticated user's stored credential. */
  source: z.enum(['service', 'keyring']),
  /**
   * Name the credential is stored under in the keyring (source `keyring`), so that several
   * services can share one entry. @default the service's own name
   */
  keyringEntry: z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'expected a name of letters, digits, "_", "." or "-"' }).optional(),
  /** Back-end user name (source `service`). */
  username: z.string().min(1).optional(),
  /** Back-end password (source `service`); `${ENV}` references are expanded at load. */
  password: z.string().min(1).optional(),
  /**
   * Inject even when the link to the back end is not encrypted (`tcp://` without STARTTLS).
   * @default false
   */
  allowPlaintextCredentials: z.boolean().default(false),
  /** Longest wait for the credential lookup, in milliseconds. @default 5000 */
  lookupTimeoutMs: z.number().int().min(1).max(60_000).default(5000),
};

/** Which keys each `source` needs: `username` and `password` for `service`, `keyringEntry` only for `keyring`. */
export function checkInjectSource(
  value: { readonly source: 'service' | 'keyring'; readonly keyringEntry?: string; readonly username?: string; readonly password?: string },
  ctx: z.RefinementCtx,
): void {
  if (value.source !== 'service') {
    for (const key of ['username', 'password'] as const) {
      if (value[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `only for source "service" (the keyring holds ${key}s per user)` });
    }
    return;
  }
  if (value.keyringEntry !== undefined) ctx.addIssue({ code: 'custom', path: ['keyringEntry'], message: 'only for source "keyring"' });
  for (const key of ['username', 'password'] as const) {
    if (value[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'required with source "service"' });
  }
}

/**
 * `properties.inject` of a protocol proxy: replace whatever login the client sends with a
 * credential Gangway holds.
 */
export const injectSchema = z.strictObject(injectShape).superRefine(checkInjectSource);

/** `properties.inject` after validation. */
export type InjectProperties = z.infer<typeof injectSchema>;

/** The credential written in the service's properties. */
export class ServiceCredentialSource implements CredentialSource {
  constructor(private readonly credential: Credential) {}

  lookup(): Promise<Credential | null> {
    return Promise.resolve(this.credential);
  }
}

/** A source that never has a credential (the keyring source while no keyring service exists). */
export const NO_CREDENTIALS: CredentialSource = { lookup: () => Promise.resolve(null) };

/** The source a service's `inject` property names: its own credential, or the gateway's `keyring`. */
export function credentialSourceFor(inject: InjectProperties, keyring: CredentialSource): CredentialSource {
  if (inject.source === 'keyring') return keyring;
  return new ServiceCredentialSource({ username: inject.username as string, password: inject.password as string });
}
