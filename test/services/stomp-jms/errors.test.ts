import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STOMP_JMS_ERRORS } from '../../../src/services/stomp-jms';

const specs = Object.entries(STOMP_JMS_ERRORS);

describe('stomp.jms error catalogue', () => {
  it('has unique codes of the form GW_ERR_STOMP_JMS_<NAME> and a close code in range', () => {
    const codes = specs.map(([, s]) => s.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [name, s] of specs) {
      expect(s.code).toBe(`GW_ERR_STOMP_JMS_${name}`);
      // Close codes a server may send (RFC 6455 section 7.4.1): not 1004, 1005 or 1006.
      expect([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]).toContain(s.close);
      expect(s.summary.length).toBeGreaterThan(10);
    }
  });

  it.each(specs.map(([, s]) => [s.code, s.close] as const))('documents %s with close code %d in README.md', (code, close) => {
    const readme = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(`| \`${code}\` | ${close} |`);
  });
});
