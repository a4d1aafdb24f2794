import { StompScanner } from '../../../bench/stomp-jms/stomp';

function scanner(): { scan: StompScanner; stamps: number[]; others: string[] } {
  const stamps: number[] = [];
  const others: string[] = [];
  return { scan: new StompScanner({ message: (s) => stamps.push(s), other: (f) => others.push(f) }), stamps, others };
}

/** Scans `text` cut at `cuts`, each piece inside a larger buffer with NULs around it. */
function scanIn(text: string, cuts: readonly number[]): { stamps: number[]; others: string[] } {
  const s = scanner();
  const bytes = Buffer.from(text, 'latin1');
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    const piece = Buffer.concat([Buffer.from([0x00, 0x4d]), bytes.subarray(from, cut), Buffer.from([0x00, 0x00])]);
    s.scan.scan(piece, 2, piece.length - 2);
    from = cut;
  }
  return { stamps: s.stamps, others: s.others };
}

describe('bench:stomp-jms STOMP scanner', () => {
  const stream =
    'CONNECTED\nversion:1.2\n\n\0\n' +
    'RECEIPT\nreceipt-id:r7\n\n\0\r\n' +
    'MESSAGE\ndestination:/topic/t\nsubscription:sub-0\nmessage-id:1\ncontent-length:12\n\n1234567:xxxx\0\n' +
    '\n' +
    'MESSAGE\r\nsubscription:sub-0\r\n\r\n99:y\0' +
    'MESSAGE\nsubscription:sub-0\n\nno stamp\0' +
    'ERROR\nmessage:slow consumer\n\nbye\0';

  it('finds every frame, the stamps and the other frames, in one piece', () => {
    const { stamps, others } = scanIn(stream, []);
    expect(stamps).toEqual([1234567, 99, -1]);
    expect(others).toEqual(['CONNECTED\nversion:1.2\n\n', 'RECEIPT\nreceipt-id:r7\n\n', 'ERROR\nmessage:slow consumer\n\nbye']);
  });

  it('finds the same cut after every byte', () => {
    const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    expect(scanIn(stream, cuts)).toEqual(scanIn(stream, []));
  });
});
