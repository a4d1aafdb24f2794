import { renameSync, writeFileSync } from 'node:fs';

/**
 * Preloaded (`node --expose-gc --require`) into a server whose memory is measured: on SIGUSR2 it
 * runs full collections and writes `process.memoryUsage()` as JSON to the file named by
 * `GANGWAY_BENCH_MEMORY_FILE`, so the orchestrator reads resident memory with no garbage in it
 * and can tell the JavaScript heap from buffers and native memory. The server under test is not
 * otherwise touched.
 */
const file = process.env.GANGWAY_BENCH_MEMORY_FILE;
const collect = (globalThis as { gc?: () => void }).gc;
if (file && collect) {
  process.on('SIGUSR2', () => {
    collect();
    collect();
    writeFileSync(`${file}.tmp`, JSON.stringify(process.memoryUsage()));
    renameSync(`${file}.tmp`, file);
  });
}
