import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { FrameReader, OPCODE, acceptFor, checkHandshake, clientFrame, handshakeRequest, newKey, type FrameSink } from '../../../bench/stomp-jms/websocket';

/** What a reader handed on: data payloads joined per message, control frames, violations. */
class Collect implements FrameSink {
  data_: Buffer[] = [];
  controls: [number, string][] = [];
  violations: string[] = [];

  data(buf: Buffer, start: number, end: number): void {
    this.data_.push(Buffer.from(buf.subarray(start, end)));
  }

  control(opcode: number, payload: Buffer): void {
    this.controls.push([opcode, payload.toString('latin1')]);
  }

  violation(reason: string): void {
    this.violations.push(reason);
  }

  get text(): string {
    return Buffer.concat(this.data_).toString('latin1');
  }
}

/** A server frame (unmasked), with the length in the form asked for. */
function serverFrame(opcode: number, payload: Buffer, fin = true, form: 7 | 16 | 64 = payload.length < 126 ? 7 : payload.length < 0x10000 ? 16 : 64): Buffer {
  const head = Buffer.alloc(form === 7 ? 2 : form === 16 ? 4 : 10);
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (form === 7) head[1] = payload.length;
  else if (form === 16) {
    head[1] = 126;
    head.writeUInt16BE(payload.length, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  return Buffer.concat([head, payload]);
}

/** Feeds `bytes` to a fresh reader in pieces cut at `cuts`, each piece in a larger buffer with junk around it. */
function readIn(bytes: Buffer, cuts: readonly number[]): Collect {
  const sink = new Collect();
  const reader = new FrameReader(sink);
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    const piece = Buffer.concat([Buffer.from([0xff, 0x00]), bytes.subarray(from, cut), Buffer.from([0x00, 0x81])]);
    reader.read(piece, 2, piece.length - 2);
    from = cut;
  }
  return sink;
}

const P = (n: number, c = 'a'): Buffer => Buffer.from(c.repeat(n), 'latin1');

describe('bench:stomp-jms WebSocket frame reader', () => {
  const stream = Buffer.concat([
    serverFrame(OPCODE.text, Buffer.from('MESSAGE\n\n1:x\0')),
    serverFrame(OPCODE.ping, Buffer.from('hi')),
    serverFrame(OPCODE.text, P(126, 'b')),
    serverFrame(OPCODE.binary, P(70_000, 'c')),
    serverFrame(OPCODE.text, P(3, 'd'), true, 64),
    serverFrame(OPCODE.text, P(5, 'e'), false),
    serverFrame(OPCODE.pong, Buffer.alloc(0)),
    serverFrame(OPCODE.continuation, P(130, 'f'), false, 16),
    serverFrame(OPCODE.continuation, P(2, 'g')),
    serverFrame(OPCODE.close, Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65])),
  ]);
  const expected = `MESSAGE\n\n1:x\0${'b'.repeat(126)}${'c'.repeat(70_000)}ddd${'e'.repeat(5)}${'f'.repeat(130)}gg`;
  const controls: [number, string][] = [
    [OPCODE.ping, 'hi'],
    [OPCODE.pong, ''],
    [OPCODE.close, '\x03\xe8bye'],
  ];

  it('reads 7-, 16- and 64-bit lengths, fragmented messages and control frames, all in one read', () => {
    const sink = readIn(stream, []);
    expect(sink.violations).toEqual([]);
    expect(sink.text).toBe(expected);
    expect(sink.controls).toEqual(controls);
  });

  it('reads the same split after every byte of the first 400 and at random points after', () => {
    const cuts = Array.from({ length: 400 }, (_, i) => i + 1);
    for (let at = 400; at < stream.length; at += 1 + Math.floor(Math.random() * 5000)) cuts.push(at);
    const sink = readIn(stream, cuts);
    expect(sink.violations).toEqual([]);
    expect(sink.text).toBe(expected);
    expect(sink.controls).toEqual(controls);
  });

  it('hands data payloads on as views of the buffer read, without copying', () => {
    const frame = serverFrame(OPCODE.text, Buffer.from('MESSAGE\n\n1:x\0'));
    const seen: Buffer[] = [];
    const reader = new FrameReader({ data: (buf) => seen.push(buf), control: () => undefined, violation: () => undefined });
    reader.read(frame, 0, frame.length);
    expect(seen).toEqual([frame]);
    expect(seen[0]).toBe(frame);
  });

  it.each([
    ['a masked frame', Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0x61]), 'masked'],
    ['a reserved bit', Buffer.from([0xc1, 0x01, 0x61]), 'reserved bit'],
    ['an unknown opcode', Buffer.from([0x83, 0x00]), 'unknown opcode 3'],
    ['a fragmented ping', Buffer.from([0x09, 0x00]), 'control frame'],
    ['a control frame of 126 bytes', serverFrame(OPCODE.ping, P(126), true, 16), 'control frame'],
    ['a continuation without a start', serverFrame(OPCODE.continuation, P(1)), 'continuation frame outside'],
    ['a new message inside a fragmented one', Buffer.concat([serverFrame(OPCODE.text, P(1), false), serverFrame(OPCODE.text, P(1))]), 'inside a fragmented one'],
    ['a length past 2^53', Buffer.from([0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), '2^53'],
    ['a frame over the limit', Buffer.from([0x82, 0x7f, 0, 0, 0, 0, 0x10, 0, 0, 0]), 'limit'],
  ])('stops at %s', (_, bytes, reason) => {
    const sink = readIn(Buffer.concat([bytes, serverFrame(OPCODE.text, P(1))]), []);
    expect(sink.violations).toHaveLength(1);
    expect(sink.violations[0]).toContain(reason);
  });
});

describe('bench:stomp-jms WebSocket client frames and handshake', () => {
  it('masks client frames and encodes 7-, 16- and 64-bit lengths', () => {
    for (const n of [0, 125, 126, 65_535, 65_536]) {
      const payload = P(n, 'z');
      const frame = clientFrame(OPCODE.text, payload);
      expect(frame[0]).toBe(0x81);
      expect((frame[1] as number) & 0x80).toBe(0x80);
      const len7 = (frame[1] as number) & 0x7f;
      const at = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
      const length = len7 === 126 ? frame.readUInt16BE(2) : len7 === 127 ? Number(frame.readBigUInt64BE(2)) : len7;
      expect(length).toBe(n);
      const mask = frame.subarray(at, at + 4);
      const unmasked = Buffer.from(frame.subarray(at + 4).map((b, i) => b ^ (mask[i & 3] as number)));
      expect(unmasked.equals(payload)).toBe(true);
    }
  });

  it('computes the accept value of RFC 6455 section 1.3', () => {
    expect(acceptFor('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const ok = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptFor(key)}`, 'Sec-WebSocket-Protocol: v12.stomp'];

  it('accepts a correct response and refuses each wrong one with its reason', () => {
    expect(checkHandshake(ok.join('\r\n'), key, 'v12.stomp')).toBeNull();
    const without = (i: number): string => ok.filter((_, j) => j !== i).join('\r\n');
    expect(checkHandshake(['HTTP/1.1 403 Forbidden', ...ok.slice(1)].join('\r\n'), key, 'v12.stomp')).toContain('403');
    expect(checkHandshake(without(1), key, 'v12.stomp')).toContain('Upgrade');
    expect(checkHandshake(without(2), key, 'v12.stomp')).toContain('Connection');
    expect(checkHandshake(without(3), key, 'v12.stomp')).toContain('Accept');
    expect(checkHandshake(without(4), key, 'v12.stomp')).toContain('subprotocol');
    expect(checkHandshake([...ok, 'Sec-WebSocket-Extensions: permessage-deflate'].join('\r\n'), key, 'v12.stomp')).toContain('extension');
  });

  describe('against a ws server', () => {
    let server: WebSocketServer;
    let port: number;
    const sockets: net.Socket[] = [];

    beforeAll(async () => {
      server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, handleProtocols: (offered) => (offered.has('v12.stomp') ? 'v12.stomp' : false) });
      await new Promise<void>((r) => server.once('listening', () => r()));
      port = (server.address() as AddressInfo).port;
    });

    afterAll(async () => {
      for (const s of sockets) s.destroy();
      for (const c of server.clients) c.terminate();
      await new Promise<void>((r) => server.close(() => r()));
    });

    it('opens, sends masked frames the server reads, and reads what the server sends', async () => {
      const peer = new Promise<WebSocket>((r) => server.once('connection', (ws) => r(ws)));
      const k = newKey();
      const socket = net.connect({ host: '127.0.0.1', port });
      sockets.push(socket);
      socket.write(handshakeRequest(`127.0.0.1:${port}`, '/stomp', k, 'v12.stomp'));
      const sink = new Collect();
      const reader = new FrameReader(sink);
      let head: Buffer | null = Buffer.alloc(0);
      let verdict: string | null = 'no response';
      socket.on('data', (chunk: Buffer) => {
        if (head === null) return reader.read(chunk, 0, chunk.length);
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return undefined;
        verdict = checkHandshake(head.toString('latin1', 0, end), k, 'v12.stomp');
        const rest = head.subarray(end + 4);
        head = null;
        return reader.read(rest, 0, rest.length);
      });
      const ws = await peer;
      const got = new Promise<string>((r) => ws.once('message', (d: Buffer) => r(d.toString())));
      socket.write(clientFrame(OPCODE.text, Buffer.from('SUBSCRIBE\nid:sub-0\n\n\0')));
      expect(await got).toBe('SUBSCRIBE\nid:sub-0\n\n\0');
      ws.send('x'.repeat(70_000));
      ws.send('first', { fin: false });
      ws.send('second', { fin: true });
      ws.ping('p');
      await new Promise((r) => setTimeout(r, 200));
      expect(verdict).toBeNull();
      expect(sink.violations).toEqual([]);
      expect(sink.text).toBe(`${'x'.repeat(70_000)}firstsecond`);
      expect(sink.controls).toEqual([[OPCODE.ping, 'p']]);
    });
  });
});
