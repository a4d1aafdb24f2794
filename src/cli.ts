#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfigFile, type GatewayConfig } from './config/load';
import { Gateway } from './gateway';
import { createLogger } from './log';
import { defaultConfigFile, packageRoot } from './paths';
import { SERVICE_TYPES } from './services';
import { absoluteKeyringPaths } from './services/keyring';
import { KeyringError, keyringCommand, propertiesFromFlags, readSecret, type KeyringFlags, type KeyringProperties } from '../security/keyring';
import { hashPassword } from '../security/passwords';

/** Exit codes: 0 done, 1 runtime failure, 2 unusable configuration or arguments. */
const EXIT_CONFIG = 2;

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

function portArg(value: string): string {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number 0-65535');
  return String(n);
}

function load(file: string | undefined): GatewayConfig {
  try {
    return loadConfigFile(file ?? defaultConfigFile(), SERVICE_TYPES);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gangway: configuration error\n${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
}

async function start(opts: { config?: string; port?: string; host?: string }): Promise<void> {
  if (opts.port !== undefined) process.env.GANGWAY_PORT = opts.port;
  if (opts.host !== undefined) process.env.GANGWAY_HOST = opts.host;
  const config = load(opts.config);
  const log = createLogger(config.log.level);
  let gateway: Gateway;
  try {
    gateway = new Gateway(config, log);
    await gateway.start();
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot start');
    process.stderr.write(`gangway: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  log.info({ event: 'start', config: config.source, version: version() }, `gangway started with ${config.source}`);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ event: 'shutdown', signal }, 'shutting down');
    gateway.stop().then(
      () => {
        log.info({ event: 'stopped' }, 'stopped');
        log.flush();
        process.exit(0);
      },
      (err: Error) => {
        log.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

const program = new Command()
  .name('gangway')
  .description('Protocol-aware WebSocket gateway')
  .version(version(), '-v, --version')
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_CONFIG));

program
  .command('start')
  .description('start the gateway (with no -c, the built-in configuration on port 8000)')
  .option('-c, --config <file>', 'YAML configuration file')
  .option('-p, --port <port>', 'port of the built-in configuration (sets GANGWAY_PORT)', portArg)
  .option('--host <host>', 'address of the built-in configuration (sets GANGWAY_HOST)')
  .action(start);

program
  .command('check')
  .description('validate a configuration file and exit (0 valid, 2 invalid)')
  .requiredOption('-c, --config <file>', 'YAML configuration file')
  .action((opts: { config: string }) => {
    const config = load(opts.config);
    process.stdout.write(`${config.source}: ok, ${config.services.length} service(s): ${config.services.map((s) => `${s.name} (${s.type})`).join(', ')}\n`);
  });

/** The keyring `-c FILE` names (its `keyring` service), or the one the store and key flags describe. */
function keyringProperties(flags: KeyringFlags): KeyringProperties {
  const { config: file, ...rest } = flags;
  if (file === undefined) return propertiesFromFlags(rest);
  const storeFlags: readonly (keyof KeyringFlags)[] = ['store', 'file', 'redisUrl', 'redisPrefix', 'keyFile', 'keyEnv', 'passphraseFile', 'passphraseEnv', 'previousKeyFile'];
  const given = storeFlags.filter((k) => flags[k] !== undefined);
  if (given.length > 0) throw new KeyringError('INVALID', `give either --config or store and key options, not both (also given: ${given.join(', ')})`);
  const config = load(file);
  const service = config.services.find((s) => s.type === 'keyring');
  if (!service) throw new KeyringError('INVALID', `${config.source} has no service of type keyring`);
  return absoluteKeyringPaths(service.properties as KeyringProperties, config.baseDir);
}

program.addCommand(keyringCommand({ resolveProperties: keyringProperties }));

program
  .command('hash-password')
  .description('read a password from standard input and print its scrypt hash for a users file (file login module)')
  .action(async () => {
    try {
      process.stdout.write(`${await hashPassword(await readSecret(process.stdin, 1024))}\n`);
    } catch (err) {
      process.stderr.write(`gangway hash-password: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
  });

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`gangway: ${err.message}\n`);
  process.exit(1);
});
