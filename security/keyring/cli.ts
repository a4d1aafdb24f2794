/**
 * `gangway keyring set|list|rm|rotate|keygen`: plain async functions (options in, text to a given
 * stream out, `KeyringError` thrown on failure) and a commander factory, {@link keyringCommand}.
 * Secrets are read from standard input only, never from arguments (which other users of the
 * machine can see in the process list).
 */
import { open } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Command, Option } from 'commander';
import type { Logger } from 'pino';
import { describeKeySource, MasterKey, type MasterKeySource } from './crypto';
import { KEYRING_DEFAULTS } from './defaults';
import { KeyringError, messageOf } from './errors';
import type { Credential, RotationResult } from './keyring';
import { keyringPropertiesSchema, openKeyringFromProperties, type KeyringProperties } from './schema';

/** Environment variable the CLI reads the Redis URL from when `--redis-url` is absent. */
export const REDIS_URL_ENV = 'GANGWAY_KEYRING_REDIS_URL';

/** What every command needs: where the keyring is and its key. */
export interface KeyringCliOptions {
  /** Validated `keyring` service properties (store and master key). */
  readonly properties: KeyringProperties;
  /** Folder relative paths resolve against. @default process.cwd() */
  readonly baseDir?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: Logger;
}

/** Options of {@link keyringSet}. */
export interface KeyringSetOptions extends KeyringCliOptions {
  readonly user: string;
  readonly service: string;
  /** Where the secret is read from (standard input). */
  readonly input: Readable;
  /**
   * What `input` holds: a password (with `username`), a token, or a whole credential as JSON
   * (`{"username","password"}` or `{"token"}`).
   */
  readonly secret: 'password' | 'token' | 'json';
  /** The back-end user name, for `secret: password`. */
  readonly username?: string;
}

/** Reads all of `input` (at most `max` bytes); one trailing newline is dropped. */
export async function readSecret(input: Readable, max: number): Promise<string> {
  if ((input as Readable & { isTTY?: boolean }).isTTY) {
    throw new KeyringError('INVALID', 'refusing to read a secret from a terminal (it would echo); pipe it in, e.g. `printf %s "$SECRET" | gangway keyring set ...`');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > max) {
      for (const c of chunks) c.fill(0);
      throw new KeyringError('LIMIT', `standard input holds more than ${max} bytes`);
    }
    chunks.push(buf);
  }
  const all = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  const text = all.toString('utf8').replace(/\r?\n$/, '');
  all.fill(0);
  if (text === '') throw new KeyringError('INVALID', 'standard input is empty; the secret is read from it');
  return text;
}

/** `keyring set USER SERVICE`: stores the credential read from `options.input`. */
export async function keyringSet(options: KeyringSetOptions, out: Writable): Promise<void> {
  const max = options.properties.maxCredentialBytes;
  let credential: Credential;
  if (options.secret === 'password') {
    if (!options.username) throw new KeyringError('INVALID', '--password-stdin needs --username NAME');
    credential = { username: options.username, password: await readSecret(options.input, max) };
  } else if (options.secret === 'token') {
    if (options.username) throw new KeyringError('INVALID', '--username goes with --password-stdin, not --token-stdin');
    credential = { token: await readSecret(options.input, max) };
  } else {
    let value: unknown;
    try {
      value = JSON.parse(await readSecret(options.input, max));
    } catch (err) {
      if (err instanceof KeyringError) throw err;
      throw new KeyringError('INVALID', 'standard input is not valid JSON');
    }
    credential = value as Credential;
  }
  const keyring = await openKeyringFromProperties(options.properties, options);
  try {
    await keyring.set(options.user, options.service, credential);
    out.write(`stored the credential of ${options.user} for ${options.service} (key id ${keyring.primaryKeyId})\n`);
  } finally {
    await keyring.close();
  }
}

/** `keyring list USER`: the user's service names, one per line. */
export async function keyringList(options: KeyringCliOptions & { readonly user: string }, out: Writable): Promise<string[]> {
  const keyring = await openKeyringFromProperties(options.properties, options);
  try {
    const services = await keyring.list(options.user);
    for (const s of services) out.write(`${s}\n`);
    return services;
  } finally {
    await keyring.close();
  }
}

/** `keyring rm USER SERVICE`: removes the credential; throws `NOT_FOUND` when there is none. */
export async function keyringRemove(options: KeyringCliOptions & { readonly user: string; readonly service: string }, out: Writable): Promise<void> {
  const keyring = await openKeyringFromProperties(options.properties, options);
  try {
    if (!(await keyring.delete(options.user, options.service))) {
      throw new KeyringError('NOT_FOUND', `${options.user} stores no credential for ${options.service}`);
    }
    out.write(`removed the credential of ${options.user} for ${options.service}\n`);
  } finally {
    await keyring.close();
  }
}

/** Options of {@link keyringRotate}. */
export interface KeyringRotateOptions extends KeyringCliOptions {
  /** The key to rotate to. */
  readonly newKey: MasterKeySource;
  /** @default KEYRING_DEFAULTS.rotationBatchSize */
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
}

/**
 * `keyring rotate --new-key-file F`: re-encrypts every record under the new key and retires the
 * old one. Resumes an interrupted rotation to the same key.
 */
export async function keyringRotate(options: KeyringRotateOptions, out: Writable): Promise<RotationResult> {
  // The new key is loaded as a previous key too, so an interrupted rotation (whose primary key is
  // already the new one) opens.
  const properties: KeyringProperties = { ...options.properties, previousKeys: [...options.properties.previousKeys, options.newKey] };
  const keyring = await openKeyringFromProperties(properties, options);
  try {
    const result = await keyring.rotate(options.newKey, {
      batchSize: options.batchSize,
      signal: options.signal,
      onBatch: ({ reencrypted }) => out.write(`re-encrypted ${reencrypted} record(s)\n`),
    });
    out.write(
      `rotated to key id ${result.keyId} (${describeKeySource(options.newKey)}): ${result.reencrypted} record(s) re-encrypted; ` +
        `retired key id(s): ${result.retired.length ? result.retired.join(', ') : 'none'}\n` +
        'make the new key the masterKey of the keyring service and remove the old one\n',
    );
    return result;
  } finally {
    await keyring.close();
  }
}

/** `keyring keygen FILE`: writes a new random master key (base64, mode 600); never overwrites. */
export async function keyringKeygen(options: { readonly file: string; readonly baseDir?: string }, out: Writable): Promise<string> {
  const path = isAbsolute(options.file) ? options.file : resolve(options.baseDir ?? process.cwd(), options.file);
  const bytes = MasterKey.generateBytes();
  const id = MasterKey.fromBytes(bytes).id;
  try {
    const fh = await open(path, 'wx', 0o600);
    try {
      await fh.writeFile(`${bytes.toString('base64')}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new KeyringError('KEY_SOURCE', `cannot create key file ${path}: ${messageOf(err)}`, { cause: err });
  } finally {
    bytes.fill(0);
  }
  out.write(`wrote a new master key (key id ${id}) to ${path}\n`);
  return id;
}

/** Store and key flags, as commander parses them. */
export interface KeyringFlags {
  /** A Gangway configuration file whose `keyring` service says where the keyring is. */
  config?: string;
  store?: string;
  file?: string;
  redisUrl?: string;
  redisPrefix?: string;
  keyFile?: string;
  keyEnv?: string;
  passphraseFile?: string;
  passphraseEnv?: string;
  previousKeyFile?: string[];
}

/**
 * Turns flags into properties: flags win; without key flags, `GANGWAY_KEYRING_KEY` when set,
 * else the passphrase in `GANGWAY_KEYRING_PASSPHRASE` (the embedded default).
 */
export function propertiesFromFlags(flags: KeyringFlags, env: NodeJS.ProcessEnv = process.env): KeyringProperties {
  if (flags.config !== undefined) throw new KeyringError('INVALID', '--config is read by the gangway command, which resolves it before this point');
  const given = [flags.keyFile, flags.keyEnv, flags.passphraseFile, flags.passphraseEnv].filter((v) => v !== undefined).length;
  if (given > 1) throw new KeyringError('INVALID', 'give one of --key-file, --key-env, --passphrase-file and --passphrase-env');
  let masterKey: MasterKeySource;
  if (flags.keyFile !== undefined) masterKey = { file: flags.keyFile };
  else if (flags.keyEnv !== undefined) masterKey = { env: flags.keyEnv };
  else if (flags.passphraseFile !== undefined) masterKey = { passphraseFile: flags.passphraseFile };
  else if (flags.passphraseEnv !== undefined) masterKey = { passphraseEnv: flags.passphraseEnv };
  else if (env[KEYRING_DEFAULTS.keyEnv]) masterKey = { env: KEYRING_DEFAULTS.keyEnv };
  else masterKey = { passphraseEnv: KEYRING_DEFAULTS.passphraseEnv };
  const parsed = keyringPropertiesSchema.safeParse({
    store: flags.store,
    file: flags.file,
    redisUrl: flags.redisUrl ?? env[REDIS_URL_ENV],
    redisPrefix: flags.redisPrefix,
    masterKey,
    previousKeys: (flags.previousKeyFile ?? []).map((file) => ({ file })),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new KeyringError('INVALID', `${issue.path.join('.') || 'options'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Options of {@link keyringCommand}. */
export interface KeyringCommandOptions {
  /** @default process.stdin */
  readonly stdin?: Readable;
  /** @default process.stdout */
  readonly stdout?: Writable;
  /** @default process.stderr */
  readonly stderr?: Writable;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: Logger;
  /**
   * Where the keyring is, from the parsed flags (for example read from a configuration file's
   * `keyring` service). @default {@link propertiesFromFlags}
   */
  readonly resolveProperties?: (flags: KeyringFlags) => KeyringProperties | Promise<KeyringProperties>;
  /** Called with 1 when a command fails (after the message is written). @default sets `process.exitCode` */
  readonly onFailure?: (exitCode: number) => void;
}

function storeOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', "take the store and key from this configuration's keyring service")
    .addOption(new Option('--store <kind>', 'store kind').choices(['file', 'redis']))
    .option('--file <path>', `file of the file store (default ${KEYRING_DEFAULTS.file})`)
    .option('--redis-url <url>', `Redis URL of the redis store (or ${REDIS_URL_ENV})`)
    .option('--redis-prefix <prefix>', `Redis key prefix (default ${KEYRING_DEFAULTS.redisPrefix})`)
    .option('--key-file <file>', 'master key file (32 bytes, raw or base64)')
    .option('--key-env <name>', `variable holding the base64 master key (default ${KEYRING_DEFAULTS.keyEnv} when set)`)
    .option('--passphrase-file <file>', 'file holding the passphrase')
    .option('--passphrase-env <name>', `variable holding the passphrase (default ${KEYRING_DEFAULTS.passphraseEnv})`)
    .option('--previous-key-file <file...>', 'old key files still read during an unfinished rotation');
}

/** The `keyring` command with its subcommands, for `program.addCommand(keyringCommand())`. */
export function keyringCommand(options: KeyringCommandOptions = {}): Command {
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const env = options.env ?? process.env;
  const onFailure =
    options.onFailure ??
    ((code: number) => {
      process.exitCode = code;
    });
  const resolveProperties = options.resolveProperties ?? ((flags: KeyringFlags) => propertiesFromFlags(flags, env));

  /** Wraps an action: resolves the properties, reports a failure on `stderr` and through `onFailure`. */
  const run =
    (body: (properties: KeyringProperties, opts: Record<string, unknown>, positional: string[]) => Promise<unknown>) =>
    async (...args: unknown[]): Promise<void> => {
      const cmd = args[args.length - 1] as Command;
      const opts = cmd.opts<Record<string, unknown>>();
      try {
        const properties = await resolveProperties(opts as KeyringFlags);
        await body(properties, opts, args.slice(0, -2) as string[]);
      } catch (err) {
        const code = err instanceof KeyringError ? ` (${err.code})` : '';
        stderr.write(`gangway keyring: ${messageOf(err)}${code}\n`);
        onFailure(1);
      }
    };

  const keyring = new Command('keyring').description('manage the encrypted credential keyring');

  keyring.addCommand(
    storeOptions(new Command('set'))
      .description("store USER's credential for back-end SERVICE; the secret is read from standard input")
      .argument('<user>')
      .argument('<service>')
      .option('--username <name>', 'back-end user name (with --password-stdin)')
      .option('--password-stdin', 'read the password from standard input')
      .option('--token-stdin', 'read a token from standard input')
      .option('--json-stdin', 'read {"username","password"} or {"token"} from standard input')
      .action(
        run(async (properties, opts, [user, service]) => {
          const o = opts as { username?: string; passwordStdin?: boolean; tokenStdin?: boolean; jsonStdin?: boolean };
          const kinds = [o.passwordStdin && 'password', o.tokenStdin && 'token', o.jsonStdin && 'json'].filter((k): k is 'password' | 'token' | 'json' => typeof k === 'string');
          if (kinds.length !== 1) throw new KeyringError('INVALID', 'give exactly one of --password-stdin, --token-stdin and --json-stdin');
          await keyringSet({ properties, env, log: options.log, user, service, input: stdin, secret: kinds[0], username: o.username }, stdout);
        }),
      ),
  );

  keyring.addCommand(
    storeOptions(new Command('list'))
      .description("names of the services USER stores credentials for (never the secrets)")
      .argument('<user>')
      .action(
        run(async (properties, _opts, [user]) => {
          await keyringList({ properties, env, log: options.log, user }, stdout);
        }),
      ),
  );

  keyring.addCommand(
    storeOptions(new Command('rm'))
      .description("remove USER's credential for SERVICE")
      .argument('<user>')
      .argument('<service>')
      .action(
        run(async (properties, _opts, [user, service]) => {
          await keyringRemove({ properties, env, log: options.log, user, service }, stdout);
        }),
      ),
  );

  keyring.addCommand(
    storeOptions(new Command('rotate'))
      .description('re-encrypt every record under a new master key and retire the old one (resumes an interrupted rotation)')
      .option('--new-key-file <file>', 'the new master key file (see keyring keygen)')
      .option('--new-key-env <name>', 'variable holding the new base64 master key')
      .option('--new-passphrase-file <file>', 'file holding the new passphrase')
      .action(
        run(async (properties, opts) => {
          const o = opts as { newKeyFile?: string; newKeyEnv?: string; newPassphraseFile?: string };
          const sources: MasterKeySource[] = [];
          if (o.newKeyFile !== undefined) sources.push({ file: o.newKeyFile });
          if (o.newKeyEnv !== undefined) sources.push({ env: o.newKeyEnv });
          if (o.newPassphraseFile !== undefined) sources.push({ passphraseFile: o.newPassphraseFile });
          if (sources.length !== 1) throw new KeyringError('INVALID', 'give exactly one of --new-key-file, --new-key-env and --new-passphrase-file');
          await keyringRotate({ properties, env, log: options.log, newKey: sources[0] }, stdout);
        }),
      ),
  );

  keyring.addCommand(
    new Command('keygen')
      .description('write a new random master key to FILE (base64, mode 600; an existing file is never overwritten)')
      .argument('<file>')
      .action(async (file: string) => {
        try {
          await keyringKeygen({ file }, stdout);
        } catch (err) {
          stderr.write(`gangway keyring: ${messageOf(err)}\n`);
          onFailure(1);
        }
      }),
  );

  return keyring;
}
