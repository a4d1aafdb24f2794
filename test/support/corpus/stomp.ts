/**
 * Valid STOMP streams for fuzzing and tests: whole sessions in the shapes real clients and
 * brokers produce. `toServer[i]` and `toClient[i]` are the two directions of one session; each
 * stream is also valid fed alone into a fresh `protocol.createPair()`.
 */

type Header = readonly [string, string];

/** One frame; `withLength` adds a content-length header; `trailer` follows the NUL (heart-beat EOLs). */
function frame(command: string, headers: readonly Header[], body = '', opts: { withLength?: boolean; eol?: string; trailer?: string } = {}): Buffer {
  const eol = opts.eol ?? '\n';
  const bodyBuf = Buffer.from(body, 'utf8');
  const all = opts.withLength ? [...headers, ['content-length', String(bodyBuf.length)] as const] : headers;
  const head = command + eol + all.map(([k, v]) => `${k}:${v}${eol}`).join('') + eol;
  return Buffer.concat([Buffer.from(head, 'utf8'), bodyBuf, Buffer.from([0]), Buffer.from(opts.trailer ?? '', 'latin1')]);
}

/** @stomp/stompjs (STOMP 1.2) against RabbitMQ: RabbitMQ ends its frames with NUL LF. */
const stompjsRabbit = {
  toServer: Buffer.concat([
    Buffer.from('CONNECT\naccept-version:1.2,1.1,1.0\nheart-beat:10000,10000\n\n\0', 'latin1'),
    frame('SUBSCRIBE', [
      ['id', 'sub-0'],
      ['destination', '/topic/prices.ACME'],
      ['ack', 'client-individual'],
    ]),
    Buffer.from('\n', 'latin1'),
    frame('SEND', [['destination', '/queue/orders'], ['content-type', 'application/json']], '{"sym":"ACME","qty":100}', { withLength: true }),
    frame('ACK', [['id', 'T_sub-0@@session-Q1@@1']]),
    frame('NACK', [['id', 'T_sub-0@@session-Q1@@2']]),
    Buffer.from('\n\n', 'latin1'),
    frame('UNSUBSCRIBE', [['id', 'sub-0']]),
    frame('DISCONNECT', [['receipt', 'close-1']]),
  ]),
  toClient: Buffer.concat([
    frame(
      'CONNECTED',
      [
        ['server', 'RabbitMQ/3.13.7'],
        ['session', 'session-Q1xv0PqO_Y2gk2Q'],
        ['heart-beat', '10000,10000'],
        ['version', '1.2'],
      ],
      '',
      { trailer: '\n' },
    ),
    frame(
      'MESSAGE',
      [
        ['subscription', 'sub-0'],
        ['destination', '/topic/prices.ACME'],
        ['message-id', 'T_sub-0@@session-Q1@@1'],
        ['redelivered', 'false'],
        ['ack', 'T_sub-0@@session-Q1@@1'],
        ['content-type', 'application/json'],
      ],
      '{"sym":"ACME","bid":101.25,"ask":101.5}',
      { withLength: true, trailer: '\n' },
    ),
    Buffer.from('\n', 'latin1'),
    frame('RECEIPT', [['receipt-id', 'close-1']], '', { trailer: '\n' }),
  ]),
};

/** A STOMP 1.1 client against ActiveMQ: escaped colons, transactions, binary body with NULs. */
const activemq11 = {
  toServer: Buffer.concat([
    frame('CONNECT', [
      ['accept-version', '1.1'],
      ['host', 'localhost'],
      ['login', 'admin'],
      ['passcode', 'admin'],
      ['heart-beat', '0,0'],
    ]),
    frame('SUBSCRIBE', [
      ['id', '1'],
      ['destination', '/queue/trades'],
      ['ack', 'client'],
    ]),
    frame('BEGIN', [['transaction', 'tx1']]),
    frame('SEND', [['destination', '/queue/trades'], ['transaction', 'tx1'], ['JMSXGroupID', 'desk\\c7']], 'bin\0ary\0', { withLength: true }),
    frame('COMMIT', [['transaction', 'tx1']]),
    frame('BEGIN', [['transaction', 'tx2']]),
    frame('ABORT', [['transaction', 'tx2']]),
    frame('ACK', [['subscription', '1'], ['message-id', 'ID\\cbroker-1-1700000000000-3\\c1\\c1\\c1\\c1']]),
    frame('DISCONNECT', []),
  ]),
  toClient: Buffer.concat([
    frame('CONNECTED', [
      ['server', 'ActiveMQ/5.18.3'],
      ['heart-beat', '0,0'],
      ['session', 'ID:broker-1-1700000000000-3:5'],
      ['version', '1.1'],
    ]),
    frame(
      'MESSAGE',
      [
        ['content-length', '8'],
        ['expires', '0'],
        ['destination', '/queue/trades'],
        ['subscription', '1'],
        ['priority', '4'],
        ['message-id', 'ID\\cbroker-1-1700000000000-3\\c1\\c1\\c1\\c1'],
        ['timestamp', '1700000000123'],
      ],
      'bin\0ary\0',
    ),
    frame('ERROR', [['content-type', 'text/plain'], ['message', 'Unknown STOMP action\\c FOO']], 'Unknown STOMP action: FOO\n'),
  ]),
};

/** A STOMP 1.0 client (no accept-version): no escaping, colons in values, bodies ended by NUL. */
const legacy10 = {
  toServer: Buffer.concat([
    frame('CONNECT', [
      ['login', 'guest'],
      ['passcode', 'guest'],
    ]),
    frame('SUBSCRIBE', [['destination', '/queue/a'], ['ack', 'auto']]),
    frame('SEND', [['destination', '/queue/a'], ['reply-to', 'temp:queue:1']], 'hello\nworld'),
    frame('ACK', [['message-id', 'ID:host-1234-1:1:1:1']]),
    frame('UNSUBSCRIBE', [['destination', '/queue/a']]),
    frame('DISCONNECT', []),
  ]),
  toClient: Buffer.concat([
    frame('CONNECTED', [['session', 'ID:host-1234-1:1']]),
    frame('MESSAGE', [['destination', '/queue/a'], ['message-id', 'ID:host-1234-1:1:1:1'], ['path', 'C:\\temp']], 'hello\nworld'),
    frame('RECEIPT', [['receipt-id', 'r-1']]),
  ]),
};

/** A STOMP 1.2 client using the STOMP command, CRLF line ends and CRLF heart-beats. */
const crlf12 = {
  toServer: Buffer.concat([
    frame(
      'STOMP',
      [
        ['accept-version', '1.1,1.2'],
        ['host', '/'],
        ['heart-beat', '5000,5000'],
      ],
      '',
      { eol: '\r\n' },
    ),
    Buffer.from('\r\n', 'latin1'),
    frame('SUBSCRIBE', [['id', 'a\\cb'], ['destination', '/topic/line\\nbreak'], ['selector', 'path = \'C\\\\x\'']], '', { eol: '\r\n' }),
    frame('SEND', [['destination', '/topic/x'], ['note', 'cr\\rlf\\n']], 'body\r\nwith lines', { eol: '\r\n', withLength: true }),
    Buffer.from('\r\n\n', 'latin1'),
    frame('DISCONNECT', [['receipt', '77']], '', { eol: '\r\n', trailer: '\r\n' }),
  ]),
  toClient: Buffer.concat([
    frame('CONNECTED', [['version', '1.2'], ['heart-beat', '5000,5000'], ['server', 'gangway/0.1']], '', { eol: '\r\n' }),
    Buffer.from('\r\n', 'latin1'),
    frame(
      'MESSAGE',
      [
        ['destination', '/topic/x'],
        ['message-id', '42'],
        ['subscription', 'a\\cb'],
        ['destination', 'repeated-header-ignored'],
      ],
      'body\r\nwith lines',
      { eol: '\r\n' },
    ),
    frame('RECEIPT', [['receipt-id', '77']], '', { eol: '\r\n' }),
  ]),
};

const sessions = [stompjsRabbit, activemq11, legacy10, crlf12];

export const corpus: { toServer: Buffer[]; toClient: Buffer[] } = {
  toServer: sessions.map((s) => s.toServer),
  toClient: sessions.map((s) => s.toClient),
};
