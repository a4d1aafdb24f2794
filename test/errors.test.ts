import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GATEWAY_ERRORS } from '../src/errors';
import { INJECT_ERRORS } from '../src/services/inject/injector';

const specs = Object.entries(GATEWAY_ERRORS);

describe('gateway error catalogue', () => {
  it('has unique codes of the form GW_ERR_<NAME>', () => {
    const codes = specs.map(([, s]) => s.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [name, s] of specs) expect(s.code).toBe(`GW_ERR_${name}`);
  });

  it('gives each error an HTTP status or a WebSocket close code, in range', () => {
    for (const [, s] of specs) {
      const status = 'status' in s ? s.status : undefined;
      const close = 'close' in s ? s.close : undefined;
      expect(status !== undefined || close !== undefined).toBe(true);
      if (status !== undefined) expect(status >= 400 && status <= 599).toBe(true);
      if (close !== undefined) expect(close === 1006 || (close >= 1000 && close <= 1014 && close !== 1004 && close !== 1005)).toBe(true);
      expect(s.summary.length).toBeGreaterThan(10);
    }
  });

  it.each(specs.map(([, s]) => s.code))('documents %s in README.md', (code) => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    expect(readme).toContain(code);
  });
});

describe('injection error catalogue', () => {
  it.each(Object.values(INJECT_ERRORS).map((s) => [s.code, s.close] as const))('documents %s with close code %d in README.md', (code, close) => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    expect(readme).toContain(`| \`${code}\` | ${close} |`);
  });
});
