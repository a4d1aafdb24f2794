import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The installed package's folder (the one holding package.json), from source or from dist/. */
export function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the gangway package folder');
    dir = up;
  }
  return dir;
}

/** The built-in configuration, used when `gangway start` is given none. */
export function defaultConfigFile(): string {
  return join(packageRoot(), 'src', 'default', 'gangway.yaml');
}
