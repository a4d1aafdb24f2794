/**
 * compose/docker-compose.yml: Debian's docker-compose (1.29; `config` needs no Docker engine)
 * accepts it, and it runs the SERVERS compose/up runs, from the same templates, each with a
 * health check. compose/up installs docker-compose when it is missing.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKEND_NAMES, backends, endpointsOf } from '../../support/backends';

const ROOT = backends().rootDir;
const COMPOSE_DIR = join(ROOT, 'compose');
const COMPOSE_FILE = join(COMPOSE_DIR, 'docker-compose.yml');
const HOW_TO_INSTALL =
  'run `compose/up` as root (it installs Debian\'s docker-compose package when missing), or `apt-get install docker-compose`';

/** What `docker-compose config` prints for one service (the short syntax of 1.29). */
interface ComposeService {
  readonly restart?: string;
  readonly entrypoint?: readonly string[];
  readonly volumes?: readonly string[];
  readonly ports?: readonly string[];
  readonly healthcheck?: { readonly test?: readonly string[] };
  readonly depends_on?: Readonly<Record<string, { readonly condition?: string }>>;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `command` from the repository root with only PATH and HOME from this environment, so
 * that docker-compose takes every variable from compose/.env.
 * @throws Error saying how to install `command` when it is not found.
 */
function run(command: string, args: readonly string[], input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/' };
    const child = execFile(command, args, { cwd: ROOT, env, timeout: 60_000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error?.code === 'ENOENT') {
        reject(new Error(`${command} is not installed: ${HOW_TO_INSTALL}`));
      } else if (error && typeof error.code !== 'number') {
        reject(error);
      } else {
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      }
    });
    child.stdin?.end(input);
  });
}

/** The compose file as docker-compose resolves it, as JSON (docker-compose 1.29 prints YAML). */
async function resolvedServices(): Promise<Readonly<Record<string, ComposeService>>> {
  const config = await run('docker-compose', ['-f', COMPOSE_FILE, 'config']);
  if (config.code !== 0) throw new Error(`docker-compose config failed (${config.code}): ${config.stderr}`);
  // PyYAML comes with Debian's docker-compose, which is written in Python.
  const json = await run('python3', ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], config.stdout);
  if (json.code !== 0) throw new Error(`python3 could not read the output of docker-compose config (${HOW_TO_INSTALL}): ${json.stderr}`);
  return (JSON.parse(json.stdout) as { services: Record<string, ComposeService> }).services;
}

function read(file: string): string {
  return readFileSync(join(COMPOSE_DIR, file), 'utf8');
}

/** The servers compose/up knows, from its ALL_SERVERS line. */
function upServers(): string[] {
  const match = /^ALL_SERVERS=\(([^)]*)\)$/m.exec(read('up'));
  if (!match) throw new Error('compose/up has no ALL_SERVERS=(...) line');
  return match[1].trim().split(/\s+/);
}

/** The body of the shell function `fn` in compose/up. */
function upFunction(fn: string): string {
  const match = new RegExp(`^${fn}\\(\\) \\{\\n([\\s\\S]*?)^\\}`, 'm').exec(read('up'));
  if (!match) throw new Error(`compose/up has no function ${fn}`);
  return match[1];
}

/** The text of `name`'s branch in a shell `case` in `script`, from `  name)` to its `;;`. */
function caseBranch(script: string, name: string): string {
  const match = new RegExp(`^\\s+${name}\\)\\n([\\s\\S]*?);;`, 'm').exec(read(script));
  if (!match) throw new Error(`compose/${script} has no branch for ${name}`);
  return match[1];
}

const SERVERS = upServers();

describe('compose/docker-compose.yml', () => {
  let services: Readonly<Record<string, ComposeService>>;

  beforeAll(async () => {
    services = await resolvedServices();
  }, 90_000);

  it('is valid for docker-compose config, with every variable found in compose/.env', async () => {
    const result = await run('docker-compose', ['-f', COMPOSE_FILE, 'config', '-q']);

    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
  }, 60_000);

  it('runs the servers of compose/up, the certificate maker and Gangway', () => {
    expect(SERVERS).toEqual(expect.arrayContaining(['activemq', 'rabbitmq', 'prosody', 'ngircd', 'redis']));
    expect(Object.keys(services).sort()).toEqual([...SERVERS, 'certs', 'gangway'].sort());
  });

  it('gives every long-running service a health check from compose/lib/healthcheck.sh', () => {
    const oneShot = Object.keys(services).filter((name) => services[name].restart === 'no');
    expect(oneShot).toEqual(['certs']);

    for (const name of Object.keys(services).filter((n) => !oneShot.includes(n))) {
      expect({ name, test: services[name].healthcheck?.test }).toEqual({ name, test: ['CMD', 'bash', '/compose/lib/healthcheck.sh', name] });
      expect(caseBranch('lib/healthcheck.sh', name)).toMatch(/\S/);
    }
  });

  it('starts Gangway once every back end is healthy', () => {
    const expected = Object.fromEntries(SERVERS.map((name) => [name, { condition: 'service_healthy' }]));

    expect(services.gangway.depends_on).toEqual(expected);
  });

  it.each(SERVERS)('renders %s from the templates in compose/ that compose/up renders', (name) => {
    const service = services[name];
    const templates = [...caseBranch('lib/container-entry.sh', name).matchAll(/render \/compose\/(\S+)/g)].map((m) => m[1]);
    const upStart = upFunction(`start_${name}`);

    expect(service.entrypoint).toEqual(['sh', '/compose/lib/container-entry.sh', name]);
    expect(service.volumes).toContain(`${COMPOSE_DIR}:/compose:ro`);
    expect(templates.length).toBeGreaterThan(0);
    for (const template of templates) {
      expect({ template, exists: existsSync(join(COMPOSE_DIR, template)) }).toEqual({ template, exists: true });
      expect(upStart).toContain(`render "$COMPOSE_DIR/${template}"`);
    }
  });

  it('publishes on 127.0.0.1 only, at the ports compose/.env gives', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) {
        expect({ name, port }).toEqual({ name, port: expect.stringMatching(/^127\.0\.0\.1:(\d+):\1\/tcp$/) });
      }
    }
    for (const name of BACKEND_NAMES) {
      const published = (services[name].ports ?? []).map((port) => Number(port.split(':')[1]));
      expect(published).toEqual(expect.arrayContaining(endpointsOf(name).map((endpoint) => endpoint.port)));
    }
  });
});
