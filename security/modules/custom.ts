import { isAbsolute, resolve } from 'node:path';
import type { LoginModule } from '../login-module';

/** Where a custom module comes from: a file path (relative to the configuration) or a package name. */
export interface CustomModuleSpec {
  /** `./plugins/api-key.js`, `/opt/gangway/ldap.js` or `@acme/gangway-ldap`. */
  readonly module: string;
  /** Export to use; @default `default`, then `LoginModule`, then the module itself. */
  readonly export?: string;
}

function isLoginModule(x: unknown): x is LoginModule {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return typeof o.login === 'function' && typeof o.commit === 'function' && typeof o.abort === 'function' && typeof o.logout === 'function';
}

function isClass(fn: Function): boolean {
  const proto: unknown = fn.prototype;
  return typeof proto === 'object' && proto !== null && typeof (proto as Record<string, unknown>).login === 'function';
}

/** Resolves a module specifier: paths against `baseDir`, package names through `require`. */
export function resolveModuleSpecifier(specifier: string, baseDir: string): string {
  if (specifier.startsWith('.') || isAbsolute(specifier)) return resolve(baseDir, specifier);
  return require.resolve(specifier, { paths: [baseDir, process.cwd()] });
}

/**
 * Loads a custom login module with `require` and returns a factory of instances. The export may
 * be a class implementing {@link LoginModule} (instantiated with no arguments) or a factory
 * function returning one; each call of the returned function makes one instance, checked to have
 * `login`, `commit`, `abort` and `logout`.
 */
export function loadCustomModule(spec: CustomModuleSpec, baseDir: string): () => LoginModule {
  const path = resolveModuleSpecifier(spec.module, baseDir);
  const exported: unknown = require(path);
  const table = (typeof exported === 'object' || typeof exported === 'function') && exported !== null ? (exported as Record<string, unknown>) : {};
  const candidate: unknown =
    spec.export !== undefined ? table[spec.export] : (table.default ?? table.LoginModule ?? table.createLoginModule ?? exported);
  if (typeof candidate !== 'function') {
    throw new Error(`${spec.module}: expected ${spec.export ?? 'a default export'} to be a LoginModule class or factory, got ${typeof candidate}`);
  }
  const ctor = candidate;
  const make = isClass(ctor) ? () => Reflect.construct(ctor, []) as unknown : () => Reflect.apply(ctor, undefined, []) as unknown;
  const probe = make();
  if (!isLoginModule(probe)) throw new Error(`${spec.module}: the export does not implement LoginModule (login, commit, abort, logout)`);
  return () => {
    const instance = make();
    if (!isLoginModule(instance)) throw new Error(`${spec.module}: the factory returned something that is not a LoginModule`);
    return instance;
  };
}
