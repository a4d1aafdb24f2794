import { PROTOCOLS } from '../../validators';
import { CORPORA } from '../support/corpus';
import type { Codec } from '../../validators/types';
import { prng } from '../support/wire';
import { fuzz, mutate } from './fuzz';

/** The short pass of `npm run fuzz` (same code, fewer inputs), run with every test run. */
const ITERATIONS = 4000;

describe('fuzz (short pass)', () => {
  it.each([...PROTOCOLS.keys()])('%s: mutated streams only ever raise WireError and stay within limits', (name) => {
    const module = PROTOCOLS.get(name);
    if (!module) throw new Error(`no validator ${name}`);
    const report = fuzz(module, CORPORA[name], ITERATIONS, 20261125);
    expect(report.failures).toEqual([]);
    const rejected = [...report.rejected.values()].reduce((a, b) => a + b, 0);
    expect(rejected + report.accepted).toBe(ITERATIONS);
    // Mutations must exercise both outcomes, or the corpus or the mutator is broken.
    expect(rejected).toBeGreaterThan(ITERATIONS / 10);
    expect(report.accepted).toBeGreaterThan(0);
    expect(report.rejected.size).toBeGreaterThan(2);
  });

  it.each([...PROTOCOLS.keys()])('%s: every corpus stream validates whole in its own direction', (name) => {
    const module = PROTOCOLS.get(name);
    if (!module) throw new Error(`no validator ${name}`);
    for (const direction of ['toServer', 'toClient'] as const) {
      for (const stream of CORPORA[name][direction]) {
        const codec = module.createPair()[direction];
        const frames = codec.push(stream);
        expect(frames.length).toBeGreaterThan(0);
        expect(codec.buffered).toBe(0);
        expect(Buffer.concat(frames.map((f) => f.raw)).equals(stream)).toBe(true);
      }
    }
  });

  it('mutations are deterministic for a seed', () => {
    const input = Buffer.from('SEND\ndestination:/queue/a\n\nhello\0');
    const a = prng(7);
    const b = prng(7);
    for (let i = 0; i < 100; i++) expect(mutate(input, input, a).equals(mutate(input, input, b))).toBe(true);
  });

  it('reports a codec that throws something other than WireError', () => {
    const module = PROTOCOLS.get('stomp');
    if (!module) throw new Error('no stomp validator');
    const broken = {
      ...module,
      createPair: () => {
        const pair = module.createPair();
        const bad = {
          protocol: pair.toServer.protocol,
          direction: pair.toServer.direction,
          buffered: 0,
          push: (chunk: Buffer) => {
            if (chunk.includes(0x0a)) throw new TypeError('boom');
            return [];
          },
        };
        return { toServer: bad, toClient: bad };
      },
    };
    const report = fuzz(broken, CORPORA.stomp, 50, 1);
    expect(report.failures.length).toBeGreaterThan(0);
    expect(report.failures[0]?.problem).toMatch(/TypeError: boom/);
  });

  it.each([...PROTOCOLS.keys()])('%s: reports a codec that holds more than the limit of its corpus', (name) => {
    const module = PROTOCOLS.get(name);
    if (!module) throw new Error(`no validator ${name}`);
    const corpus = CORPORA[name];
    const hoarding = {
      ...module,
      createPair: () => {
        const pair = module.createPair();
        const codec = (direction: 'toServer' | 'toClient'): Codec => ({
          protocol: pair[direction].protocol,
          direction,
          buffered: corpus.maxBuffered + 1,
          push: () => [],
        });
        return { toServer: codec('toServer'), toClient: codec('toClient') };
      },
    };
    const report = fuzz(hoarding, corpus, 20, 1);
    expect(report.failures.length).toBeGreaterThan(0);
    expect(new Set(report.failures.map((f) => f.problem))).toEqual(new Set([`buffered ${corpus.maxBuffered + 1} bytes, above the limit ${corpus.maxBuffered}`]));
  });
});
