import fc from 'fast-check';
import { WireError } from '../../validators/types';
import { DEFAULT_LIMITS, ERRORS, createPair, type XmppFrame, type XmppOptions } from '../../validators/xmpp';
import { corpus } from '../support/corpus/xmpp';

const STREAMS = 'http://etherx.jabber.org/streams';
const H = `<stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS}' version='1.0'>`;

// ---------------------------------------------------------------------------------------------
// A generator of valid elements

interface Element {
  readonly name: string;
  readonly attrs: readonly (readonly [string, string])[];
  readonly children: readonly (Element | string)[];
}

const NAME_START = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_', 'é', 'ß', '名', 'Ω'];
const NAME_REST = [...NAME_START, ...'0123456789-.', '·'];

const nameArb = fc
  .tuple(fc.constantFrom(...NAME_START), fc.array(fc.constantFrom(...NAME_REST), { maxLength: 10 }))
  .map(([first, rest]) => first + rest.join(''))
  .filter((n) => !n.toLowerCase().startsWith('xml'));

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000;
}

/** Any text of XML characters, including the ones that need escaping. */
const textArb = fc
  .array(fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('&', '<', '>', '"', "'", ']]>', '\t', '\r\n', ' ')), { maxLength: 6 })
  .map((parts) => [...parts.join('')].filter((ch) => isXmlChar(ch.codePointAt(0) as number)).join(''));

const escapeText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttr = (s: string): string =>
  escapeText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#xD;');

const attrsArb = fc.uniqueArray(fc.tuple(nameArb, textArb), { maxLength: 5, selector: ([n]) => n });

const elementArb: fc.Arbitrary<Element> = fc.letrec<{ el: Element }>((tie) => ({
  el: fc.record({
    name: nameArb,
    attrs: attrsArb,
    children: fc.array(fc.oneof({ depthSize: 'small', withCrossShrink: true }, textArb, tie('el')), { maxLength: 4 }),
  }),
})).el;

function serialize(el: Element, quote: string): string {
  const attrs = el.attrs.map(([n, v]) => ` ${n}=${quote}${escapeAttr(v)}${quote}`).join('');
  if (el.children.length === 0) return `<${el.name}${attrs}/>`;
  const body = el.children.map((c) => (typeof c === 'string' ? escapeText(c) : serialize(c, quote))).join('');
  return `<${el.name}${attrs}>${body}</${el.name}>`;
}

function depthOf(el: Element): number {
  return 1 + Math.max(0, ...el.children.map((c) => (typeof c === 'string' ? 0 : depthOf(c))));
}

/** Splits `buf` at the given cut points (sorted, deduplicated, inside the buffer). */
function splitAt(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    out.push(Buffer.from(buf.subarray(prev, p)));
    prev = p;
  }
  return out;
}

const LIMITS: Partial<XmppOptions> = { maxDepth: 64, maxTextBytes: DEFAULT_LIMITS.maxStanzaBytes };

describe('xmpp property: generated elements round-trip', () => {
  it('a stanza holding any generated element parses to one frame with its exact bytes and decoded attributes', () => {
    fc.assert(
      fc.property(elementArb, attrsArb, fc.constantFrom("'", '"'), fc.array(fc.nat(), { maxLength: 6 }), (child, topAttrs, quote, cuts) => {
        const top = topAttrs.filter(([n]) => n !== 'xmlns');
        const stanza = serialize({ name: 'message', attrs: top, children: [child] }, quote);
        const input = Buffer.from(`${H}${stanza}`, 'utf8');
        fc.pre(depthOf(child) < 64 && input.length < DEFAULT_LIMITS.maxStanzaBytes);
        const codec = createPair(LIMITS).toServer;
        const frames: XmppFrame[] = [];
        for (const piece of splitAt(input, cuts)) frames.push(...codec.push(piece).map((f) => ({ ...f, attributes: f.attributes, raw: Buffer.from(f.raw) })));
        expect(frames.map((f) => f.kind)).toEqual(['stream:stream', 'message']);
        const message = frames[1] as XmppFrame;
        expect(message.raw.toString('utf8')).toBe(stanza);
        expect(message.attributes).toEqual(Object.fromEntries(top));
        expect(message.namespace).toBe('jabber:client');
        expect(codec.buffered).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('the same element is one valid WebSocket message', () => {
    fc.assert(
      fc.property(elementArb, (child) => {
        fc.pre(depthOf(child) < 64);
        const codec = createPair({ ...LIMITS, framing: 'websocket' }).toServer;
        codec.push(Buffer.from("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>"));
        const stanza = serialize({ name: 'message', attrs: [['xmlns', 'jabber:client']], children: [child] }, '"');
        const [frame] = codec.push(Buffer.from(` ${stanza}\n`, 'utf8'));
        expect(frame?.raw.toString('utf8')).toBe(stanza);
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Mutations

type Mutation = { readonly at: number; readonly op: 'flip' | 'insert' | 'delete' | 'truncate' | 'repeat'; readonly byte: number; readonly len: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('flip', 'insert', 'delete', 'truncate', 'repeat'),
  byte: fc.oneof(fc.constantFrom(0x00, 0x3c, 0x3e, 0x26, 0x2f, 0x22, 0x27, 0x3a, 0x21, 0x3f, 0x5d, 0xc3, 0xef, 0xff, 0x20), fc.integer({ min: 0, max: 255 })),
  len: fc.integer({ min: 1, max: 64 }),
});

function apply(input: Buffer, m: Mutation): Buffer {
  const at = m.at % (input.length + 1);
  switch (m.op) {
    case 'flip': {
      const out = Buffer.from(input);
      if (at < out.length) out[at] = m.byte;
      return out;
    }
    case 'insert':
      return Buffer.concat([input.subarray(0, at), Buffer.from([m.byte]), input.subarray(at)]);
    case 'delete':
      return Buffer.concat([input.subarray(0, at), input.subarray(at + m.len)]);
    case 'truncate':
      return input.subarray(0, at);
    default: {
      const slice = input.subarray(at, at + Math.min(m.len, 8));
      return Buffer.concat([input.subarray(0, at), Buffer.alloc(slice.length * 2000, slice), input.subarray(at)]);
    }
  }
}

const SMALL: Partial<XmppOptions> = { maxStanzaBytes: 4096, maxTextBytes: 1024, maxAttributeValueBytes: 512 };

describe('xmpp property: mutated streams', () => {
  const streams = [...corpus.toServer.map((s) => ['toServer', s] as const), ...corpus.toClient.map((s) => ['toClient', s] as const)];

  it('never throw anything but WireError, never hang, and keep buffered within maxStanzaBytes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...streams),
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.boolean(),
        ([direction, stream], mutations, cuts, small) => {
          const input = mutations.reduce(apply, stream);
          const opts = small ? SMALL : {};
          const limit = small ? 4096 : DEFAULT_LIMITS.maxStanzaBytes;
          const codec = createPair(opts)[direction];
          const started = Date.now();
          try {
            for (const piece of splitAt(input, cuts)) {
              codec.push(piece);
              expect(codec.buffered).toBeLessThanOrEqual(limit);
            }
          } catch (err) {
            if (!(err instanceof WireError)) throw err;
            expect(Object.values(ERRORS).map((e) => e.code)).toContain(err.code);
          }
          expect(Date.now() - started).toBeLessThan(2000);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('the same outcome, with the same error message, whatever the split', () => {
    fc.assert(
      fc.property(fc.constantFrom(...streams), mutationArb, fc.array(fc.nat(), { maxLength: 12 }), ([direction, stream], mutation, cuts) => {
        const input = apply(stream, mutation);
        const run = (pieces: Buffer[]): string => {
          const codec = createPair()[direction];
          const kinds: string[] = [];
          try {
            for (const p of pieces) kinds.push(...codec.push(p).filter((f) => f.type !== 'whitespace').map((f) => f.kind));
            return `ok ${kinds.join(',')} buffered ${codec.buffered}`;
          } catch (err) {
            if (!(err instanceof WireError)) throw err;
            // Frames completed in the failing push are not returned, so only the error is compared.
            return `${err.code} ${err.message}`;
          }
        };
        expect(run(splitAt(input, cuts))).toBe(run([input]));
      }),
      { numRuns: 500 },
    );
  });

  it('mutated WebSocket messages never throw anything but WireError', () => {
    const session = [
      "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>",
      "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHMzY3IzdA==</auth>",
      "<message xmlns='jabber:client' to='room@conference.localhost' type='groupchat'><body>hi &amp; bye</body></message>",
    ].map((m) => Buffer.from(m));
    fc.assert(
      fc.property(fc.nat({ max: session.length - 1 }), mutationArb, (index, mutation) => {
        const codec = createPair({ framing: 'websocket' }).toServer;
        try {
          session.forEach((m, i) => codec.push(i === index ? apply(m, mutation) : m));
        } catch (err) {
          if (!(err instanceof WireError)) throw err;
        }
        expect(codec.buffered).toBe(0);
      }),
      { numRuns: 800 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Bombs

describe('xmpp property: bombs fail with the right code', () => {
  it('billion laughs, in any shape, fails at the DTD', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 8 }), (levels, withDecl, cuts) => {
        const entities = Array.from({ length: levels }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`).join('');
        const doc = `${withDecl ? "<?xml version='1.0'?>" : ''}<!DOCTYPE stream:stream [<!ENTITY lol0 "lol">${entities}]>${H}<message><body>&lol${levels};</body></message>`;
        const codec = createPair().toServer;
        let code = '';
        try {
          for (const p of splitAt(Buffer.from(doc), cuts)) codec.push(p);
        } catch (err) {
          if (err instanceof WireError) code = err.code;
        }
        expect(code).toBe(ERRORS.DTD.code);
      }),
      { numRuns: 100 },
    );
  });

  it('an entity reference without a DTD fails as restricted XML', () => {
    fc.assert(
      fc.property(nameArb.filter((n) => !['lt', 'gt', 'amp', 'quot', 'apos'].includes(n)), (name) => {
        const codec = createPair().toServer;
        expect(() => codec.push(Buffer.from(`${H}<message><body>&${name};</body></message>`))).toThrow(expect.objectContaining({ code: ERRORS.ENTITY_REFERENCE.code }));
      }),
      { numRuns: 100 },
    );
  });

  it('a nesting bomb fails at maxDepth + 1 with memory bounded', () => {
    fc.assert(
      fc.property(nameArb, fc.integer({ min: 2, max: 64 }), fc.integer({ min: 1, max: 4096 }), (name, maxDepth, chunk) => {
        const codec = createPair({ maxDepth }).toServer;
        codec.push(Buffer.from(`${H}<message>`));
        const open = Buffer.from(`<${name}>`.repeat(1000));
        let code = '';
        try {
          for (let off = 0; off < open.length; off += chunk) {
            codec.push(open.subarray(off, off + chunk));
            expect(codec.buffered).toBeLessThanOrEqual(DEFAULT_LIMITS.maxStanzaBytes);
          }
        } catch (err) {
          if (err instanceof WireError) code = err.code;
        }
        expect(code).toBe(ERRORS.DEPTH_EXCEEDED.code);
      }),
      { numRuns: 100 },
    );
  });

  it('a huge attribute fails at maxAttributeValueBytes, whatever the chunking', () => {
    fc.assert(
      fc.property(fc.integer({ min: 40, max: 65536 }), fc.integer({ min: 1, max: 16384 }), (limit, chunk) => {
        const codec = createPair({ maxAttributeValueBytes: limit }).toServer;
        codec.push(Buffer.from(`${H}<message to='`));
        const block = Buffer.alloc(chunk, 0x61);
        let fed = 0;
        let code = '';
        try {
          while (fed < 2 * limit + chunk) {
            codec.push(block);
            fed += chunk;
          }
        } catch (err) {
          if (err instanceof WireError) code = err.code;
        }
        expect(code).toBe(ERRORS.ATTRIBUTE_TOO_LONG.code);
        expect(fed).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 100 },
    );
  });
});
