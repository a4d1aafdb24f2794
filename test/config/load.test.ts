import { join, resolve } from 'node:path';
import { ConfigError, buildConfig, loadConfigFile, loadConfigText, type BuildOptions, type GatewayConfig } from '../../src/config/load';
import { DEFAULT_GATEWAY_LIMITS, DEFAULT_SESSION_LIMITS } from '../../src/config/defaults';
import { SERVICE_TYPES } from '../../src/services';

const FIXTURES = join(__dirname, '..', 'fixtures', 'config');
const opts = (env: Record<string, string> = {}): BuildOptions => ({ source: 'gangway.yaml', types: SERVICE_TYPES, env });

/** The ConfigError a load throws (fails the test if it loads). */
function problemsOf(load: () => GatewayConfig): ConfigError {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('the configuration loaded');
}

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

describe('loadConfigText errors name file, line, key path, what was found and what was expected', () => {
  it('reports a bad connect URI of the third service', () => {
    const text = yaml(
      'services:',
      '  - { name: a, type: echo, accept: "ws://127.0.0.1:8000/a" }',
      '  - { name: b, type: echo, accept: "ws://127.0.0.1:8000/b" }',
      '  - name: c',
      '    type: proxy',
      '    accept: ws://127.0.0.1:8000/c',
      '    connect: htp://x',
    );
    const err = problemsOf(() => loadConfigText(text, opts()));
    expect(err.message).toBe('gangway.yaml:7:14: services[2].connect: expected a tcp:// or tls:// URI, got "htp://x"');
    expect(err.problems).toEqual([{ path: 'services[2].connect', message: 'expected a tcp:// or tls:// URI, got "htp://x"', line: 7, column: 14 }]);
    expect(err.source).toBe('gangway.yaml');
    expect(err.name).toBe('ConfigError');
  });

  it('reports a connect URI without a port', () => {
    const err = problemsOf(() => loadConfigText(yaml('services:', '  - { name: c, type: proxy, accept: "ws://h:1/c", connect: "tcp://backend" }'), opts()));
    expect(err.message).toBe('gangway.yaml:2:60: services[0].connect: expected host and port (tcp:// or tls://host:port), got "tcp://backend"');
  });

  it('reports unknown keys at every level', () => {
    const text = yaml(
      'gangway:',
      '  colour: blue',
      'services:',
      '  - name: a',
      '    type: echo',
      '    accept: ws://127.0.0.1:8000/a',
      '    limits:',
      '      maxMesageBytes: 10',
    );
    const err = problemsOf(() => loadConfigText(text, opts()));
    expect(err.message.split('\n')).toEqual([
      'gangway.yaml:2:11: gangway.colour: unknown key',
      'gangway.yaml:8:23: services[0].limits.maxMesageBytes: unknown key',
    ]);
  });

  it('reports unknown keys in the properties of a service type', () => {
    const text = yaml('services:', '  - { name: d, type: directory, accept: "http://127.0.0.1:8000/", properties: { root: ., indx: x.html } }');
    const err = problemsOf(() => loadConfigText(text, opts()));
    expect(err.message).toBe('gangway.yaml:2:96: services[0].properties.indx: unknown key');
  });

  it('reports an unknown service type listing the known ones', () => {
    const err = problemsOf(() => loadConfigText(yaml('services:', '  - { name: a, type: ecko, accept: "ws://h:1/a" }'), opts()));
    expect(err.message).toBe('gangway.yaml:2:22: services[0].type: expected one of echo, directory, management, proxy, stomp.proxy, amqp.proxy, irc.proxy, xmpp.proxy, stomp.jms, keyring, got "ecko"');
  });

  it('reports duplicate service names and duplicate mounts', () => {
    const text = yaml(
      'services:',
      '  - { name: a, type: echo, accept: "ws://127.0.0.1:8000/x" }',
      '  - { name: a, type: echo, accept: "ws://127.0.0.1:8000/y" }',
      '  - { name: b, type: echo, accept: "ws://127.0.0.1:8000/x/" }',
    );
    const err = problemsOf(() => loadConfigText(text, opts()));
    expect(err.message.split('\n')).toEqual([
      'gangway.yaml:3:13: services[1].name: duplicate service name "a"',
      'gangway.yaml:4:36: services[2].accept: 127.0.0.1:8000/x is already taken by service "a"',
    ]);
  });

  it('lets a management service share a mount with a directory (exact paths)', () => {
    const config = loadConfigText(
      yaml('services:', '  - { name: m, type: management, accept: "http://127.0.0.1:8000/" }', '  - { name: d, type: directory, accept: "http://127.0.0.1:8000/", properties: { root: . } }'),
      opts(),
    );
    expect(config.services.map((s) => s.name)).toEqual(['m', 'd']);
  });

  it('reports a missing required connect and a connect where none is taken', () => {
    const text = yaml('services:', '  - { name: p, type: proxy, accept: "ws://h:1/p" }', '  - { name: e, type: echo, accept: "ws://h:1/e", connect: "tcp://h:2" }');
    const err = problemsOf(() => loadConfigText(text, opts()));
    expect(err.message.split('\n')).toEqual([
      'gangway.yaml:2:5: services[0].connect: required, expected a tcp:// or tls:// URI',
      'gangway.yaml:3:59: services[1].connect: type echo connects nowhere; remove connect',
    ]);
  });

  it('reports a missing accept as required', () => {
    const err = problemsOf(() => loadConfigText(yaml('services:', '  - { name: e, type: echo }'), opts()));
    expect(err.message).toBe('gangway.yaml:2:5: services[0].accept: required, expected a string or a list of strings');
  });

  it('reports accept URIs with the wrong scheme, credentials, or wss without tls certificates', () => {
    const text = yaml(
      'services:',
      '  - { name: a, type: echo, accept: "http://h:1/a" }',
      '  - { name: b, type: echo, accept: "ws://u:p@h:1/b" }',
      '  - { name: c, type: echo, accept: "wss://h:1/c" }',
      '  - { name: d, type: echo, accept: ["ws://h:1/d", "ftp://h/d"] }',
    );
    const err = problemsOf(() => loadConfigText(text, opts()));
    expect(err.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'services[0].accept: type echo accepts ws:// URIs, got "http://h:1/a"',
      'services[1].accept: accept URIs carry no credentials, got "ws://h:1" with user info',
      'services[2].accept: wss:// needs tls (certificates) at the top level',
      'services[3].accept[1]: expected a ws://, wss://, http://, https://, tcp:// or tls:// URI, got "ftp://h/d"',
    ]);
  });

  it('takes tcp:// and tls:// accept URIs for types that declare tcp, one listener per port', () => {
    const realms = ['realms:', '  - name: corp', '    modules: [{ type: file, flag: required, options: { path: users.yaml } }]'];
    const jms = (name: string, accept: string, extra = ''): string => `  - { name: ${name}, type: stomp.jms, accept: ${accept}, connect: "amqp://h:5672"${extra} }`;
    const config = loadConfigText(
      yaml(
        'tls: { certificates: [{ cert: a.crt, key: a.key }] }',
        ...realms,
        'services:',
        jms('a', '["ws://127.0.0.1:0/a", "tcp://127.0.0.1:0", "tls://[::1]:61614/"]'),
        jms('b', '["tcp://127.0.0.1:0", "ws://127.0.0.1:0/b"]', ', auth: { realm: corp }'),
      ),
      opts(),
    );
    expect(config.services[0]?.accept.map((u) => [u.scheme, u.host, u.port, u.path])).toEqual([
      ['ws', '127.0.0.1', 0, '/a'],
      ['tcp', '127.0.0.1', 0, '/'],
      ['tls', '::1', 61614, '/'],
    ]);
    expect(config.secureListeners).toBe(true);
    expect(config.services[1]?.auth?.schemes).toEqual(['basic', 'bearer']);
  });

  it('reports tcp:// on a type that does not take it, a tcp:// URI with a path or no port, and tls:// without certificates', () => {
    const text = yaml(
      'services:',
      '  - { name: e, type: echo, accept: "tcp://127.0.0.1:7000" }',
      '  - { name: j, type: stomp.jms, connect: "stomp://h:61613", accept: ["tcp://127.0.0.1:7001/stomp", "tcp://127.0.0.1", "tls://127.0.0.1:7002"] }',
    );
    const err = problemsOf(() => loadConfigText(text, opts()));
    expect(err.message.split('\n')).toEqual([
      'gangway.yaml:2:36: services[0].accept: type echo accepts ws:// URIs, got "tcp://127.0.0.1:7000"',
      'gangway.yaml:3:70: services[1].accept[0]: tcp:// accept URIs carry no path, got "tcp://127.0.0.1:7001/stomp"',
      'gangway.yaml:3:100: services[1].accept[1]: expected tcp://HOST:PORT, got "tcp://127.0.0.1"',
      'gangway.yaml:3:119: services[1].accept[2]: tls:// needs tls (certificates) at the top level',
    ]);
  });

  it('reports a tcp:// port shared with another listener', () => {
    const jms = (name: string, accept: string): string => `  - { name: ${name}, type: stomp.jms, connect: "stomp://h:61613", accept: ${accept} }`;
    const text = yaml(
      'services:',
      '  - { name: e, type: echo, accept: "ws://127.0.0.1:8000/e" }',
      jms('a', '"tcp://127.0.0.1:8000"'),
      jms('b', '"tcp://127.0.0.1:61613"'),
      jms('c', '["tcp://127.0.0.1:61613", "ws://127.0.0.1:61613/c"]'),
    );
    const err = problemsOf(() => loadConfigText(text, opts()));
    expect(err.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'services[1].accept: 127.0.0.1:8000 is already taken by service "e"; a tcp:// listener needs a port of its own',
      'services[3].accept[0]: 127.0.0.1:61613 is already taken by service "b"; a tcp:// listener needs a port of its own',
      'services[3].accept[1]: 127.0.0.1:61613 is already taken by service "b" (a tcp:// or tls:// listener)',
    ]);
  });

  it('refuses auth with tcp:// on a type that cannot log its clients in, and schemes without basic or bearer', () => {
    const realms = ['realms:', '  - name: corp', '    modules: [{ type: file, flag: required, options: { path: users.yaml } }]'];
    const echo = SERVICE_TYPES.get('echo');
    if (!echo) throw new Error('echo is not registered');
    const types = new Map([...SERVICE_TYPES, ['bytes', { ...echo, type: 'bytes', accepts: ['tcp'] as const }]]);
    const text = yaml(
      ...realms,
      'services:',
      '  - { name: b, type: bytes, accept: "tcp://127.0.0.1:7000", auth: { realm: corp } }',
      '  - { name: j, type: stomp.jms, connect: "stomp://h:61613", accept: "tcp://127.0.0.1:7001", auth: { realm: corp, schemes: [ticket, cookie] } }',
      '  - { name: w, type: stomp.jms, connect: "stomp://h:61613", accept: "ws://127.0.0.1:7002/w", auth: { realm: corp, schemes: [ticket] } }',
    );
    const err = problemsOf(() => loadConfigText(text, { ...opts(), types }));
    expect(err.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'services[0].accept: type bytes cannot authenticate tcp:// sessions (no HTTP upgrade carries their credentials); remove auth or this URI',
      'services[1].auth.schemes: tcp:// and tls:// sessions log in with CONNECT login and passcode: offer basic or bearer',
    ]);
  });

  it('reports a service auth naming an unknown realm, and accepts a known one', () => {
    const service = (realm: string): string => `  - { name: a, type: echo, accept: "ws://h:1/a", auth: { realm: ${realm} } }`;
    const realms = ['realms:', '  - name: corp', '    modules: [{ type: file, flag: required, options: { path: users.yaml } }]'];
    const err = problemsOf(() => loadConfigText(yaml(...realms, 'services:', service('crop')), opts()));
    expect(err.problems.map((p) => `${p.path}: ${p.message}`)).toEqual(['services[0].auth.realm: expected one of corp, got "crop"']);
    const config = loadConfigText(yaml(...realms, 'services:', service('corp')), opts());
    expect(config.services[0]?.auth).toMatchObject({ realm: 'corp', schemes: ['basic', 'bearer'] });
    expect(config.security.realms).toHaveLength(1);
  });

  it.each([
    ['maxBufferedBytes', 1000, 'must be at least 131072 (two socket reads), got number 1000'],
    ['maxMessageBytes', 0, 'expected at least 1, got number 0'],
    ['maxMessageBytes', 1.5, 'expected int, got number 1.5'],
    ['maxMessageBytes', '"big"', 'expected number, got "big"'],
    ['connectTimeoutMs', 0, 'expected at least 1, got number 0'],
    ['idleTimeoutMs', -1, 'expected at least 0, got number -1'],
  ])('reports a bad limit: %s = %s', (key, value, message) => {
    const err = problemsOf(() => loadConfigText(yaml('services:', `  - { name: a, type: echo, accept: "ws://h:1/a", limits: { ${key}: ${String(value)} } }`), opts()));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]?.path).toBe(`services[0].limits.${key}`);
    expect(err.problems[0]?.message).toBe(message);
  });

  it('reports bad YAML with its position', () => {
    const err = problemsOf(() => loadConfigText(yaml('services:', '  - name: a', '    type: [echo'), opts()));
    expect(err.problems[0]?.message).toMatch(/^YAML: /);
    expect(err.message).toMatch(/^gangway\.yaml:\d+:\d+: YAML: /);
  });

  it('reports duplicate YAML keys', () => {
    const err = problemsOf(() => loadConfigText(yaml('services:', '  - name: a', '    name: b', '    type: echo', '    accept: ws://h:1/a'), opts()));
    expect(err.message).toMatch(/^gangway\.yaml:3:5: YAML: Map keys must be unique/);
  });

  it('reports a document that is not a mapping, and an empty services list', () => {
    expect(problemsOf(() => loadConfigText('- a\n- b\n', opts())).message).toBe('gangway.yaml:1:1: expected a mapping with a "services" list, got a list');
    expect(problemsOf(() => loadConfigText('', opts())).message).toBe('gangway.yaml: expected a mapping with a "services" list, got null');
    expect(problemsOf(() => loadConfigText('services: []\n', opts())).message).toBe('gangway.yaml:1:11: services: expected at least one service, got a list');
  });

  it('reports a bad log level listing the levels', () => {
    const err = problemsOf(() => loadConfigText(yaml('gangway: { log: { level: loud } }', 'services:', '  - { name: a, type: echo, accept: "ws://h:1/a" }'), opts()));
    expect(err.message).toBe('gangway.yaml:1:26: gangway.log.level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "loud"');
  });

  it('reports a file that does not exist', () => {
    const err = problemsOf(() => loadConfigFile(join(FIXTURES, 'no-such-file.yaml'), SERVICE_TYPES, {}));
    expect(err.message).toBe(`${join(FIXTURES, 'no-such-file.yaml')}: cannot read configuration: no such file`);
  });
});

describe('environment substitution', () => {
  const text = yaml(
    'gangway:',
    '  log: { level: "${LEVEL:-warn}" }',
    'services:',
    '  - name: tcp',
    '    type: proxy',
    '    accept: ws://${HOST:-127.0.0.1}:${PORT}/tcp',
    '    connect: ${BACKEND}',
    '    description: "costs $${PRICE}"',
  );

  it('replaces ${NAME} and ${NAME:-default}; $${ is a literal ${', () => {
    const config = loadConfigText(text, opts({ PORT: '9100', BACKEND: 'tcp://db.internal:5432' }));
    expect(config.log.level).toBe('warn');
    expect(config.services[0]?.accept[0]).toMatchObject({ host: '127.0.0.1', port: 9100, path: '/tcp' });
    expect(config.services[0]?.connect?.href).toBe('tcp://db.internal:5432');
    expect(config.services[0]?.description).toBe('costs ${PRICE}');
  });

  it('prefers the environment over the default, and treats an empty value as unset', () => {
    const config = loadConfigText(text, opts({ LEVEL: 'debug', HOST: '', PORT: '1', BACKEND: 'tcp://b:2' }));
    expect(config.log.level).toBe('debug');
    expect(config.services[0]?.accept[0]?.host).toBe('127.0.0.1');
  });

  it('gives a value that is one reference alone the type of its text', () => {
    const text = yaml(
      'services:',
      '  - name: a',
      '    type: echo',
      '    accept: ws://127.0.0.1:${PORT}/a',
      '    limits:',
      '      maxMessageBytes: ${SIZE}',
      '      idleTimeoutMs: ${IDLE:-0}',
    );
    const config = loadConfigText(text, opts({ PORT: '8001', SIZE: '4096' }));
    expect(config.services[0]?.accept[0]?.port).toBe(8001);
    expect(config.services[0]?.limits.maxMessageBytes).toBe(4096);
    expect(config.services[0]?.limits.idleTimeoutMs).toBe(0);
    const err = problemsOf(() => loadConfigText(text, opts({ PORT: '8001', SIZE: 'big' })));
    expect(err.problems).toEqual([expect.objectContaining({ path: 'services[0].limits.maxMessageBytes', message: 'expected number, got a value from the environment' })]);
  });

  it('names a missing variable and the key that uses it', () => {
    const err = problemsOf(() => loadConfigText(text, opts({ BACKEND: 'tcp://b:2' })));
    expect(err.message).toBe('gangway.yaml:6:13: services[0].accept: environment variable PORT is not set');
  });

  it.each([
    ['connect', '    connect: ${SECRET}', 'gangway.yaml:5:14: services[0].connect: expected a tcp:// or tls:// URI, got a value from the environment'],
    ['a limit', '    limits: { maxMessageBytes: "${SECRET}" }', 'gangway.yaml:5:32: services[0].limits.maxMessageBytes: expected number, got a value from the environment'],
    [
      'a property',
      '    properties: { messageType: "x-${SECRET}" }',
      'gangway.yaml:5:32: services[0].properties.messageType: expected one of "binary", "text", "mirror", got a value from the environment',
    ],
  ])('never echoes a value that came from the environment (%s)', (_what, line, expected) => {
    const secret = 'htp://user:hunter2-s3cr3t@x';
    const t = yaml('services:', '  - name: tcp', '    type: proxy', '    accept: ws://h:1/tcp', line, ...(line.includes('connect') ? [] : ['    connect: tcp://h:2']));
    const err = problemsOf(() => loadConfigText(t, opts({ SECRET: secret })));
    expect(err.message).toBe(expected);
    expect(err.message).not.toContain('hunter2');
  });
});

describe('the loaded configuration', () => {
  const text = yaml(
    'gangway:',
    '  limits: { maxConnections: 7 }',
    '  sessionLimits: { idleTimeoutMs: 1000, maxMessageBytes: 2048 }',
    'services:',
    '  - name: tcp',
    '    type: proxy',
    '    accept: [ws://127.0.0.1:0/a/, ws://127.0.0.1:0/b]',
    '    connect: tls://backend:443',
    '    subprotocols: [v12.stomp]',
    '    limits: { maxMessageBytes: 4096 }',
    '    properties: { tls: { caFile: ca.pem } }',
    '  - { name: files, type: directory, accept: "http://127.0.0.1:0/", properties: { root: www } }',
  );
  const config = loadConfigText(text, { ...opts(), baseDir: '/etc/gangway' });

  it('applies defaults from one place, then the file-wide session limits, then the service limits', () => {
    expect(config.limits).toEqual({ ...DEFAULT_GATEWAY_LIMITS, maxConnections: 7 });
    expect(config.services[0]?.limits).toEqual({ ...DEFAULT_SESSION_LIMITS, idleTimeoutMs: 1000, maxMessageBytes: 4096 });
    expect(config.services[1]?.limits).toEqual({ ...DEFAULT_SESSION_LIMITS, idleTimeoutMs: 1000, maxMessageBytes: 2048 });
    expect(config.log.level).toBe('info');
    expect(config.services[0]?.properties).toEqual({ messageType: 'mirror', proxyProtocol: false, tls: { caFile: '/etc/gangway/ca.pem' } });
    expect(config.services[1]?.properties).toEqual({ root: resolve('/etc/gangway', 'www'), index: 'index.html', maxAgeSeconds: 0 });
  });

  it('normalises accept paths', () => {
    expect(config.services[0]?.accept.map((a) => a.path)).toEqual(['/a', '/b']);
    expect(config.services[0]?.subprotocols).toEqual(['v12.stomp']);
  });

  it('is deeply frozen', () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.services)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    const svc = config.services[0];
    expect(svc).toBeDefined();
    if (!svc) return;
    for (const part of [svc, svc.limits, svc.accept, svc.accept[0], svc.subprotocols, svc.properties]) expect(Object.isFrozen(part)).toBe(true);
    expect(() => {
      (svc.limits as { maxMessageBytes: number }).maxMessageBytes = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.services as unknown as unknown[]).push({});
    }).toThrow(TypeError);
    expect(svc.limits.maxMessageBytes).toBe(4096);
  });

  it('buildConfig takes a plain object as well', () => {
    const built = buildConfig({ services: [{ name: 'e', type: 'echo', accept: 'ws://127.0.0.1:0/e' }] }, opts());
    expect(built.source).toBe('gangway.yaml');
    expect(built.services[0]?.accept[0]).toMatchObject({ scheme: 'ws', host: '127.0.0.1', port: 0, path: '/e' });
  });
});

describe('fixtures', () => {
  it('loads valid.yaml, resolving relative paths against its folder', () => {
    const config = loadConfigFile(join(FIXTURES, 'valid.yaml'), SERVICE_TYPES, {});
    expect(config.services.map((s) => `${s.name}:${s.type}`)).toEqual(['management:management', 'files:directory', 'echo:echo', 'tcp:proxy']);
    expect(config.services[1]?.properties).toMatchObject({ root: FIXTURES });
  });

  it.each([
    ['bad-yaml.yaml', /^bad-yaml\.yaml:\d+:\d+: YAML: /],
    ['unknown-key.yaml', /^unknown-key\.yaml:4:12: services\[0\]\.acept: unknown key$/m],
    ['wrong-type.yaml', /^wrong-type\.yaml:6:24: services\[0\]\.limits\.maxMessageBytes: expected number, got "big"$/],
    ['bad-uri.yaml', /^bad-uri\.yaml:11:14: services\[2\]\.connect: expected a tcp:\/\/ or tls:\/\/ URI, got "htp:\/\/x"$/],
    ['missing-env.yaml', /^missing-env\.yaml:5:14: services\[0\]\.connect: environment variable GANGWAY_TEST_BACKEND_HOST is not set$/],
    ['unknown-type.yaml', /^unknown-type\.yaml:3:11: services\[0\]\.type: expected one of echo, directory, management, proxy, stomp.proxy, amqp.proxy, irc.proxy, xmpp.proxy, stomp.jms, keyring, got "ecko"$/],
    ['duplicate-mount.yaml', /^duplicate-mount\.yaml:7:13: services\[1\]\.accept: 127\.0\.0\.1:8000\/echo is already taken by service "first"$/],
    ['small-buffer.yaml', /^small-buffer\.yaml:7:25: services\[0\]\.limits\.maxBufferedBytes: must be at least 131072 \(two socket reads\), got number 1000$/],
    ['tcp-accept.yaml', /^tcp-accept\.yaml:7:9: services\[1\]\.accept\[1\]: type echo accepts ws:\/\/ URIs, got "tcp:\/\/127\.0\.0\.1:61613"$/],
  ])('refuses %s', (file, expected) => {
    const err = problemsOf(() => loadConfigFile(join(FIXTURES, file), SERVICE_TYPES, {}));
    expect(err.message.split(`${FIXTURES}/`).join('')).toMatch(expected);
  });
});
