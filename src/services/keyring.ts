/**
 * The `keyring` service: the HTTP API through which an authenticated user stores, lists and
 * deletes their own back-end credentials (security/keyring/http.ts), and the credential source
 * protocol proxies with `inject.source: keyring` read from. A configuration holds at most one.
 */
import type { IncomingMessage } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import { createKeyringHandler, keyringPropertiesSchema, openKeyringFromProperties, type Keyring, type KeyringHandler, type KeyringProperties } from '../../security/keyring';
import type { Credential, CredentialSource } from './inject/types';
import type { Service, ServiceType } from './types';

/** Makes the store file and key files of `properties` absolute against the configuration's folder. */
export function absoluteKeyringPaths(properties: KeyringProperties, baseDir: string): KeyringProperties {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const key = <K extends KeyringProperties['masterKey']>(k: K): K => ('file' in k ? { ...k, file: abs(k.file) } : k);
  return { ...properties, file: abs(properties.file), masterKey: key(properties.masterKey), previousKeys: properties.previousKeys.map(key) };
}

/**
 * The keyring as a credential source for injection. A `{token}` entry is injected as the password,
 * with the session's user name as the user name (the form token-authenticating brokers take).
 */
export class KeyringCredentials implements CredentialSource {
  constructor(private readonly keyring: () => Promise<Keyring>) {}

  async lookup(user: string | null, service: string): Promise<Credential | null> {
    if (user === null) return null;
    const entry = await (await this.keyring()).get(user, service);
    if (entry === null) return null;
    const c = entry.credential;
    return 'token' in c ? { username: user, password: c.token } : { username: c.username, password: c.password };
  }
}

export const keyringType: ServiceType<KeyringProperties> = {
  type: 'keyring',
  accepts: ['http'],
  connect: null,
  requiresAuth: 'each user stores and reads only their own credentials, so the keyring needs auth (a realm)',
  properties: keyringPropertiesSchema,
  create(ctx): Service {
    const { config, log } = ctx;
    const properties = absoluteKeyringPaths(config.properties, ctx.baseDir);
    let opening: Promise<Keyring> | null = null;
    const keyring = (): Promise<Keyring> => {
      opening ??= openKeyringFromProperties(properties, { baseDir: ctx.baseDir, log });
      return opening;
    };
    /** The user of each request being served, as the gateway's guard authenticated it. */
    const users = new WeakMap<IncomingMessage, string>();
    let handler: KeyringHandler | null = null;
    return {
      config,
      credentials: new KeyringCredentials(keyring),
      async open(): Promise<void> {
        const opened = await keyring();
        handler = createKeyringHandler(opened, {
          authenticate: (req) => Promise.resolve(users.get(req) ?? null),
          maxBodyBytes: properties.maxBodyBytes,
          log,
        });
        log.info({ event: 'keyring.open', store: opened.store.description }, `keyring open (${opened.store.description})`);
      },
      handleRequest(req, res, subpath, subject): void {
        if (handler === null) {
          res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
          res.end('the keyring is not open yet\n');
          return;
        }
        if (subject?.user !== undefined) users.set(req, subject.user);
        handler(req, res, subpath);
      },
      async ready() {
        try {
          await keyring();
          return { ok: true };
        } catch (err) {
          return { ok: false, detail: `keyring: ${(err as Error).message}` };
        }
      },
      async close(): Promise<void> {
        if (opening === null) return;
        const opened = await opening.catch(() => null);
        await opened?.close();
      },
    };
  },
};
