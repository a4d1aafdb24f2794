import { readFileSync, statSync, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { errorText } from './realm';

function signature(s: Stats): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

/**
 * A file parsed once and parsed again when it changes on disk: each `get()` compares the file's
 * inode, size and modification times with the last read (one `stat`), so an edit or an atomic
 * rename is seen on the next use. A file that no longer parses keeps the previous content in
 * service and logs a warning naming the file (never its content).
 */
export class ReloadingFile<T> {
  private value: T;
  private sig: string;
  private checking: Promise<T> | null = null;

  /** Reads and parses the file now; throws naming the file when it is missing or invalid. */
  constructor(
    readonly path: string,
    private readonly parse: (content: Buffer) => T,
    private readonly log: Logger,
  ) {
    try {
      this.sig = signature(statSync(path));
      this.value = parse(readFileSync(path));
    } catch (err) {
      throw new Error(`${path}: ${errorText(err)}`, { cause: err });
    }
  }

  /** The current content, re-read first when the file changed. */
  get(): Promise<T> {
    if (!this.checking) {
      this.checking = this.check().finally(() => {
        this.checking = null;
      });
    }
    return this.checking;
  }

  private async check(): Promise<T> {
    let sig: string;
    try {
      sig = signature(await stat(this.path));
    } catch (err) {
      this.log.warn({ event: 'file.unreadable', file: this.path, err: errorText(err) }, 'file cannot be read; keeping the previous version');
      return this.value;
    }
    if (sig === this.sig) return this.value;
    try {
      const next = this.parse(await readFile(this.path));
      this.value = next;
      this.sig = sig;
      this.log.info({ event: 'file.reloaded', file: this.path }, 'file reloaded');
    } catch (err) {
      this.sig = sig;
      this.log.warn({ event: 'file.invalid', file: this.path, err: errorText(err) }, 'file changed but is invalid; keeping the previous version');
    }
    return this.value;
  }
}
