import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_GATEWAY_LIMITS, DEFAULT_SESSION_LIMITS } from '../../src/config/defaults';

const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

/** The rows `| \`key\` | default | effect |` of the README's session limits table. */
function sessionLimitRows(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const m of README.matchAll(/^\| `([a-z]\w*)` \| (\d+) \|/gm)) rows.set(m[1] as string, m[2] as string);
  return rows;
}

describe('the README states the defaults src/config/defaults.ts applies', () => {
  it('lists every session limit with its default, and nothing else', () => {
    const rows = sessionLimitRows();
    expect([...rows.keys()].sort()).toEqual(Object.keys(DEFAULT_SESSION_LIMITS).sort());
    for (const [key, value] of Object.entries(DEFAULT_SESSION_LIMITS)) expect([key, rows.get(key)]).toEqual([key, String(value)]);
  });

  it('names every gateway-wide limit with its default', () => {
    for (const [key, value] of Object.entries(DEFAULT_GATEWAY_LIMITS)) {
      expect(README).toMatch(new RegExp('`' + key + '`\\s+\\(' + String(value) + '[;)]'));
    }
  });
});
