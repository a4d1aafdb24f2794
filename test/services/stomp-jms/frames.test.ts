import type { JmsMessage } from '../../../adapters/jms';
import { encodeFrame, type StompHeader, type StompVersion } from '../../../validators/stomp';
import { SplitMessage, subscriptionLine } from '../../../src/services/stomp-jms/frames';
import { SharedDelivery } from '../../../src/services/stomp-jms/hub';

const HEADERS: readonly StompHeader[] = [
  ['destination', '/topic/prices.eur:usd'],
  ['message-id', 'ID:1\\2'],
  ['content-type', 'text/plain'],
  ['x-note', 'line one\nline two\r'],
];
const BODY = Buffer.from('1.0842\0binary\n', 'latin1');
const VERSIONS: readonly StompVersion[] = ['1.0', '1.1', '1.2'];

describe('stomp.jms MESSAGE frames split around the subscription header', () => {
  it.each(VERSIONS)('joins to the bytes encodeFrame gives with the subscription header last (STOMP %s)', (version) => {
    const split = SplitMessage.encode(HEADERS, BODY, version);
    for (const id of ['sub-0', 'a:b', 'x\\y\nz']) {
      const whole = encodeFrame({ command: 'MESSAGE', headers: [...HEADERS, ['subscription', id]], body: BODY }, version);
      expect(split.frameFor(id, subscriptionLine(id, version)).equals(whole)).toBe(true);
    }
  });

  it('makes one buffer per subscription id and hands it to every subscriber with that id', () => {
    const split = SplitMessage.encode(HEADERS, BODY, '1.2');
    const first = split.frameFor('sub-0', subscriptionLine('sub-0', '1.2'));
    expect(split.frameFor('sub-0', subscriptionLine('sub-0', '1.2'))).toBe(first);
    const other = split.frameFor('sub-1', subscriptionLine('sub-1', '1.2'));
    expect(other).not.toBe(first);
    expect(other.toString('latin1')).toContain('\nsubscription:sub-1\n\n');
    expect(split.frames).toBe(2);
  });

  it('encodes the headers of a shared delivery once per view, whatever the subscription ids', () => {
    const message: JmsMessage = { destination: { kind: 'topic', name: 'prices' }, body: BODY, properties: new Map() };
    const delivery = new SharedDelivery(message);
    let encoded = 0;
    const encode = (version: StompVersion) => (): SplitMessage => {
      encoded++;
      return SplitMessage.encode(HEADERS, BODY, version);
    };
    const a = delivery.frame('1.2', 'sub-0', subscriptionLine('sub-0', '1.2'), encode('1.2'));
    const b = delivery.frame('1.2', 'sub-0', subscriptionLine('sub-0', '1.2'), encode('1.2'));
    const c = delivery.frame('1.2', 'sub-7', subscriptionLine('sub-7', '1.2'), encode('1.2'));
    const d = delivery.frame('1.0', 'sub-0', subscriptionLine('sub-0', '1.0'), encode('1.0'));
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(d).not.toBe(a);
    expect(encoded).toBe(2);
    expect(delivery.encodings).toBe(2);
  });
});
