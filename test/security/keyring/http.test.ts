/**
 * The keyring HTTP API on a real http.Server (port 0): every status it answers with, and no
 * answer ever carrying a secret.
 */
import { connect } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { createKeyringHandler, type Keyring } from '../../../security/keyring';
import { listen, openFileKeyring, request, tempDir, writeKeyFile, type Reply } from './helpers';

const SECRET = 'http-secret-password-77aa';
const TOKEN = 'http-secret-token-88bb';

/** Test authentication: `X-Test-User` names the user. */
const authenticate = async (req: IncomingMessage): Promise<string | null> => {
  const user = req.headers['x-test-user'];
  return typeof user === 'string' && user !== '' ? user : null;
};

describe('keyring HTTP handler', () => {
  let tmp: ReturnType<typeof tempDir>;
  let keyring: Keyring;
  let server: Awaited<ReturnType<typeof listen>>;
  const replies: Reply[] = [];

  beforeAll(async () => {
    tmp = tempDir();
    const key = writeKeyFile(tmp.dir, 'master.key');
    keyring = await openFileKeyring(tmp.dir, { key: { file: key.path }, limits: { maxRecordsPerUser: 3 } });
    const handler = createKeyringHandler(keyring, { authenticate, maxBodyBytes: 256, challenge: 'Basic realm="gangway"' });
    // Mounted at /keyring, as the gateway mounts a service: the handler sees the path below it.
    server = await listen((req, res) => handler(req, res, (req.url ?? '/').slice('/keyring'.length) || '/'));
  });
  afterAll(async () => {
    await server.close();
    await keyring.close();
    tmp.cleanup();
  });

  const call = async (method: string, path: string, options: { user?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.user) headers['x-test-user'] = options.user;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const reply = await request(`${server.url}/keyring${path}`, { method, headers, body: options.body });
    replies.push(reply);
    return reply;
  };

  it('stores with PUT (204), lists with GET (200, names only), deletes with DELETE (204, then 404)', async () => {
    expect((await call('PUT', '/credentials/rabbitmq', { user: 'alice', body: JSON.stringify({ username: 'alice', password: SECRET }) })).status).toBe(204);
    expect((await call('PUT', '/credentials/slack', { user: 'alice', body: JSON.stringify({ token: TOKEN }) })).status).toBe(204);
    expect((await keyring.get('alice', 'rabbitmq'))?.credential).toEqual({ username: 'alice', password: SECRET });

    const list = await call('GET', '/credentials', { user: 'alice' });
    expect(list.status).toBe(200);
    expect(list.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(list.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(list.body)).toEqual({ services: ['rabbitmq', 'slack'] });
    expect(JSON.parse((await call('GET', '/credentials', { user: 'bob' })).body)).toEqual({ services: [] });
    const head = await call('HEAD', '/credentials', { user: 'alice' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');

    expect((await call('DELETE', '/credentials/slack', { user: 'alice' })).status).toBe(204);
    const again = await call('DELETE', '/credentials/slack', { user: 'alice' });
    expect(again.status).toBe(404);
    expect(again.body).toBe('no credential stored for slack\n');
    // Bob cannot remove Alice's credential: he has none by that name.
    expect((await call('DELETE', '/credentials/rabbitmq', { user: 'bob' })).status).toBe(404);
    expect(await keyring.list('alice')).toEqual(['rabbitmq']);
  });

  it('answers 401 without a user, before reading anything', async () => {
    for (const [method, path] of [
      ['GET', '/credentials'],
      ['PUT', '/credentials/x'],
      ['DELETE', '/credentials/x'],
    ]) {
      const reply = await call(method, path, { body: method === 'PUT' ? JSON.stringify({ token: TOKEN }) : undefined });
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBe('Basic realm="gangway"');
      expect(reply.body).toBe('authentication required\n');
    }
    expect(await keyring.list('x')).toEqual([]);
  });

  it('answers 413 for a body over the limit, declared or streamed', async () => {
    const big = JSON.stringify({ token: 'x'.repeat(400) });
    const declared = await call('PUT', '/credentials/big', { user: 'alice', body: big });
    expect(declared.status).toBe(413);
    expect(declared.body).toBe('the body is larger than 256 bytes\n');

    // Chunked, no Content-Length: refused once the count passes the limit.
    const streamed = await new Promise<string>((done, fail) => {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
      let answer = '';
      socket.on('data', (c: Buffer) => {
        answer += c.toString('utf8');
      });
      socket.on('close', () => done(answer));
      socket.on('error', fail);
      const chunk = 'y'.repeat(200);
      socket.write(`PUT /keyring/credentials/big HTTP/1.1\r\nHost: x\r\nX-Test-User: alice\r\nTransfer-Encoding: chunked\r\n\r\n`);
      socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    });
    expect(streamed).toMatch(/^HTTP\/1\.1 413 /);
    expect(await keyring.list('alice')).not.toContain('big');
  });

  it('answers 400 with one line for malformed JSON and wrong fields, never echoing the body', async () => {
    const malformed = await call('PUT', '/credentials/x', { user: 'alice', body: `{"password": "${SECRET}"` });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toBe('the body is not valid JSON\n');
    for (const body of [{ username: 'a' }, { username: 'a', password: SECRET, extra: 1 }, { token: 5 }, [TOKEN], 'just a string']) {
      const reply = await call('PUT', '/credentials/x', { user: 'alice', body: JSON.stringify(body) });
      expect(reply.status).toBe(400);
      expect(reply.body).toBe('expected a JSON object {"username": string, "password": string} or {"token": string}, with no other fields\n');
    }
    const badName = await call('PUT', '/credentials/..%2Fetc', { user: 'alice', body: JSON.stringify({ token: TOKEN }) });
    expect(badName.status).toBe(400);
    expect(badName.body.split('\n')).toHaveLength(2);
    expect(badName.body).toContain('service name');
  });

  it('answers 409 when the user is at the record limit', async () => {
    for (const s of ['a1', 'a2', 'a3']) expect((await call('PUT', `/credentials/${s}`, { user: 'carol', body: JSON.stringify({ token: TOKEN }) })).status).toBe(204);
    const over = await call('PUT', '/credentials/a4', { user: 'carol', body: JSON.stringify({ token: TOKEN }) });
    expect(over.status).toBe(409);
    expect(over.body).toContain('already stores 3');
  });

  it('answers 405 for other methods (a stored secret is never readable) and 404 elsewhere', async () => {
    const get = await call('GET', '/credentials/rabbitmq', { user: 'alice' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('PUT, DELETE');
    const post = await call('POST', '/credentials', { user: 'alice', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await call('PATCH', '/credentials/rabbitmq', { user: 'alice', body: '{}' })).status).toBe(405);
    expect((await call('GET', '/other', { user: 'alice' })).status).toBe(404);
  });

  it('never returned a secret in any answer above', () => {
    expect(replies.length).toBeGreaterThan(20);
    for (const r of replies) {
      expect(r.body).not.toContain(SECRET);
      expect(r.body).not.toContain(TOKEN);
    }
  });
});
