import { Command } from 'commander';
import { PROTOCOLS } from '../../validators';
import { CORPORA } from '../support/corpus';
import { fuzz } from './fuzz';

/**
 * `npm run fuzz`: at least 1,000,000 mutated inputs per protocol (default), fed at random split
 * points; any exception other than WireError, or a codec holding more than the limit that bounds
 * its buffer (`Corpus.maxBuffered`), is a failure printed with its input (base64) and makes the
 * exit code 1.
 */
const program = new Command()
  .option('-n, --iterations <n>', 'inputs per protocol', (v) => Number.parseInt(v, 10), 1_000_000)
  .option('-s, --seed <n>', 'PRNG seed', (v) => Number.parseInt(v, 10), Date.now() % 2 ** 31)
  .option('-p, --protocol <name...>', 'protocols to fuzz (default: all)')
  .parse();
const opts = program.opts<{ iterations: number; seed: number; protocol?: string[] }>();

let failed = 0;
process.stdout.write(`seed ${opts.seed}, ${opts.iterations} inputs per protocol\n`);
process.stdout.write('protocol  inputs     accepted  rejected  frames      max buffered  slowest ms  failures\n');
for (const [name, module] of PROTOCOLS) {
  if (opts.protocol && !opts.protocol.includes(name)) continue;
  const corpus = CORPORA[name];
  const r = fuzz(module, corpus, opts.iterations, opts.seed);
  const rejected = [...r.rejected.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(
    `${name.padEnd(9)} ${String(r.iterations).padEnd(10)} ${String(r.accepted).padEnd(9)} ${String(rejected).padEnd(9)} ${String(r.frames).padEnd(11)} ${String(r.maxBuffered).padEnd(13)} ${r.slowestMs.toFixed(1).padEnd(11)} ${r.failures.length}\n`,
  );
  for (const f of r.failures.slice(0, 5)) {
    const shown = f.input.length > 200 ? `${f.input.slice(0, 200)}... (${f.input.length} base64 characters)` : f.input;
    process.stdout.write(`  ${f.direction}: ${f.problem}\n    input ${shown}\n`);
  }
  failed += r.failures.length;
}
process.exit(failed ? 1 : 0);
