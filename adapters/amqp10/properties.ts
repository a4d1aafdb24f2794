/**
 * Custom properties ⇄ AMQP 1.0 application-properties (AMQP 1.0 part 3, section 3.2.5: a map
 * from string to simple values). Each property is written as the AMQP type of its JMS type:
 * boolean, byte, short, int, long, float, double, string. rhea decodes every numeric type to a
 * JavaScript number, so a delivery's numbers are read as `int`, `long` or `double`
 * (`propertyOf`); an AMQP timestamp is read as a `long` of ms, binary as UTF-8 text. rhea hands a
 * long beyond ±2^53 over as its 8 bytes, which cannot be told from binary: it arrives as text.
 */
import { types, type Typed } from 'rhea';
import { propertyOf, type JmsProperty } from '../jms';

/** A long as the 8 big-endian bytes rhea writes exactly (a number would lose bits beyond 2^53). */
function longBytes(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
}

/** A custom property as an AMQP 1.0 value of its own type. */
export function applicationProperty(p: JmsProperty): Typed {
  switch (p.type) {
    case 'string':
      return types.wrap_string(p.value);
    case 'boolean':
      return types.wrap_boolean(p.value);
    case 'byte':
      return types.wrap_byte(p.value);
    case 'short':
      return types.wrap_short(p.value);
    case 'int':
      return types.wrap_int(p.value);
    case 'long':
      return types.wrap_long(longBytes(p.value));
    case 'float':
      return types.wrap_float(p.value);
    case 'double':
      return types.wrap_double(p.value);
  }
}

/** The application-properties of a message as typed values, in order. */
export function applicationProperties(properties: ReadonlyMap<string, JmsProperty>): Record<string, Typed> {
  const out: Record<string, Typed> = {};
  for (const [k, v] of properties) out[k] = applicationProperty(v);
  return out;
}

/** The custom properties of a delivery; values JMS properties cannot hold (null, lists, maps) are left out. */
export function propertiesOf(ap: unknown): Map<string, JmsProperty> {
  const properties = new Map<string, JmsProperty>();
  if (typeof ap !== 'object' || ap === null) return properties;
  for (const [k, v] of Object.entries(ap)) {
    const p: JmsProperty | undefined = v instanceof Date ? { type: 'long', value: BigInt(v.getTime()) } : propertyOf(v);
    if (p) properties.set(k, p);
  }
  return properties;
}
