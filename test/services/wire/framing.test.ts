/**
 * Framing without validation (`validateServer: false`): STOMP frames and IRC lines cut from a
 * server's stream split anywhere, within the frame-size limit, nothing else checked.
 */
import { IrcLineFramer, StompFramer } from '../../../src/services/wire/framing';
import type { WireFrame } from '../../../validators/types';
import { caught } from '../../support/wire';

/** Feeds `input` cut at `cuts`; returns what each push gave, flattened. */
function feed<T>(push: (chunk: Buffer) => T[], input: Buffer, cuts: readonly number[]): T[] {
  const points = [0, ...cuts, input.length];
  const out: T[] = [];
  for (let i = 0; i < points.length - 1; i++) out.push(...push(input.subarray(points[i], points[i + 1])));
  return out;
}

const everyByte = (input: Buffer): number[] => Array.from({ length: input.length - 1 }, (_, i) => i + 1);

const units = (frames: readonly WireFrame[]): [string, string][] => frames.map((f) => [f.kind, f.raw.toString('latin1')]);

describe('StompFramer', () => {
  // Frames no STOMP validator accepts from a server: unknown command, no headers, a CR inside a line.
  const FRAMES = [
    'FROB\n\nbody\0',
    'MESSAGE\ncontent-length:5\nx:y\n\na\0b\0c\0',
    'RECEIPT\r\nreceipt-id:7\r\n\r\n\0',
    'MESSAGE\nx:a\rb\ncontent-length:0\n\n\0',
  ];
  const STREAM = Buffer.from(`\n${FRAMES[0]}\n\n${FRAMES[1]}\r\n${FRAMES[2]}${FRAMES[3]}\n`, 'latin1');
  const EXPECTED: [string, string][] = [
    ['HEARTBEAT', '\n'],
    ['frame', FRAMES[0] as string],
    ['HEARTBEAT', '\n\n'],
    ['frame', FRAMES[1] as string],
    ['HEARTBEAT', '\r\n'],
    ['frame', FRAMES[2] as string],
    ['frame', FRAMES[3] as string],
    ['HEARTBEAT', '\n'],
  ];

  it('cuts frames at the NUL or after content-length, and gives EOLs between frames as heart-beats', () => {
    const framer = new StompFramer(1024);
    expect(units(framer.push(STREAM))).toEqual(EXPECTED);
  });

  it('gives the same frames for one byte per push (heart-beat runs then come a byte at a time)', () => {
    const framer = new StompFramer(1024);
    const got = units(feed((c) => framer.push(c), STREAM, everyByte(STREAM)));
    expect(got.filter(([kind]) => kind === 'frame')).toEqual(EXPECTED.filter(([kind]) => kind === 'frame'));
    expect(got.map(([, raw]) => raw).join('')).toBe(STREAM.toString('latin1'));
  });

  it('gives the same frames for a cut inside the blank line, the content-length value and the body', () => {
    const text = STREAM.toString('latin1');
    const cuts = [text.indexOf('\n\nbody') + 1, text.indexOf('length:5') + 7, text.indexOf('a\0b') + 2, text.indexOf('\r\n\r\n') + 3];
    const framer = new StompFramer(1024);
    expect(units(feed((c) => framer.push(c), STREAM, cuts))).toEqual(EXPECTED);
  });

  it('refuses a frame above maxFrameSize, counting the held bytes, and stays refused', () => {
    const frame = Buffer.from(`MESSAGE\n\n${'x'.repeat(40)}\0`);
    expect(units(new StompFramer(frame.length).push(frame))).toEqual([['frame', frame.toString()]]);
    const framer = new StompFramer(frame.length - 1);
    expect(framer.push(frame.subarray(0, 20))).toEqual([]);
    const err = caught(() => framer.push(frame.subarray(20)));
    expect([err.code, err.closeCode, err.direction, err.protocol]).toEqual(['GW_ERR_STOMP_FRAME_TOO_LARGE', 1009, 'toClient', 'stomp']);
    expect(caught(() => framer.push(Buffer.from('\n')))).toBe(err);
  });

  it('refuses a content-length that does not fit before the body arrives', () => {
    const err = caught(() => new StompFramer(100).push(Buffer.from('MESSAGE\ncontent-length:100\n\n')));
    expect(err.code).toBe('GW_ERR_STOMP_FRAME_TOO_LARGE');
  });

  it('refuses a content-length that is not a number, and a body not followed by NUL', () => {
    expect(caught(() => new StompFramer(100).push(Buffer.from('MESSAGE\ncontent-length:1x\n\nab\0'))).code).toBe('GW_ERR_STOMP_BAD_HEADER_VALUE');
    const err = caught(() => new StompFramer(100).push(Buffer.from('MESSAGE\ncontent-length:1\n\nab\0')));
    expect([err.code, err.closeCode]).toEqual(['GW_ERR_STOMP_MISSING_NUL', 1002]);
  });
});

describe('IrcLineFramer', () => {
  const STREAM = Buffer.from('@time=x :srv 001 nick :Welcome\r\n\r\nPING :a\n:n!u@h PRIVMSG #c :\xff\x00 raw\r\n', 'latin1');
  const LINES = ['@time=x :srv 001 nick :Welcome', 'PING :a', ':n!u@h PRIVMSG #c :\xff\x00 raw'];

  it('cuts lines at CRLF or LF, without the line end, dropping empty lines, checking nothing else', () => {
    expect(new IrcLineFramer(512).push(STREAM).map((l) => l.toString('latin1'))).toEqual(LINES);
  });

  it('gives the same lines for one byte per push', () => {
    const framer = new IrcLineFramer(512);
    expect(feed((c) => framer.push(c), STREAM, everyByte(STREAM)).map((l) => l.toString('latin1'))).toEqual(LINES);
  });

  it('takes a line of maxLineBytes with its line end and refuses one byte more, even before its end arrives', () => {
    const line = `PRIVMSG #c :${'x'.repeat(20)}`;
    expect(new IrcLineFramer(line.length + 2).push(Buffer.from(`${line}\r\n`)).map(String)).toEqual([line]);
    expect(new IrcLineFramer(line.length + 1).push(Buffer.from(`${line}\n`)).map(String)).toEqual([line]);
    expect(caught(() => new IrcLineFramer(line.length + 1).push(Buffer.from(`${line}\r\n`))).code).toBe('GW_ERR_IRC_LINE_TOO_LONG');
    const framer = new IrcLineFramer(line.length);
    const err = caught(() => framer.push(Buffer.from(line)));
    expect([err.code, err.closeCode, err.direction, err.protocol]).toEqual(['GW_ERR_IRC_LINE_TOO_LONG', 1009, 'toClient', 'irc']);
    expect(caught(() => framer.push(Buffer.from('\n')))).toBe(err);
  });
});
