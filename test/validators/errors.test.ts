import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WIRE_ERRORS } from '../../validators/errors';
import { PROTOCOLS } from '../../validators';

const root = join(__dirname, '..', '..');
const PREFIX: Record<string, string> = { stomp: 'STOMP', amqp091: 'AMQP091', amqp10: 'AMQP10', xmpp: 'XMPP', irc: 'IRC' };

describe('wire error catalogue', () => {
  const all = Object.entries(WIRE_ERRORS).flatMap(([protocol, specs]) => Object.values(specs).map((spec) => ({ protocol, spec })));

  it('has a folder catalogue for every registered protocol', () => {
    expect(Object.keys(WIRE_ERRORS).sort()).toEqual([...PROTOCOLS.keys()].sort());
  });

  it.each(all.map(({ protocol, spec }) => [spec.code, protocol, spec] as const))('%s is well formed and documented in validators/%s/README.md', (code, protocol, spec) => {
    expect(code).toMatch(new RegExp(`^GW_ERR_${PREFIX[protocol]}_[A-Z0-9_]+$`));
    expect([1002, 1007, 1008, 1009, 1011]).toContain(spec.close);
    expect(spec.summary.length).toBeGreaterThan(5);
    expect(spec.condition.length).toBeGreaterThan(0);
    const readme = readFileSync(join(root, 'validators', protocol, 'README.md'), 'utf8');
    expect(readme).toContain(code);
  });

  it('has no code twice', () => {
    const codes = all.map(({ spec }) => spec.code);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
