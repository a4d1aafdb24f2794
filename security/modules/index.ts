import type { Logger } from 'pino';
import type { LoginModule } from '../login-module';
import type { LoginModuleConfig } from '../schema';
import { loadCustomModule } from './custom';
import { fileModuleFactory } from './file';
import { httpModuleFactory } from './http';
import { jwtModuleFactory } from './jwt';

export { FileLoginModule, UsersStore, parseUsersFile, fileModuleOptionsSchema, type FileModuleOptions } from './file';
export { JwtLoginModule, JwtVerifier, jwtModuleOptionsSchema, JWT_ALGORITHMS, type JwtModuleOptions } from './jwt';
export { HttpLoginModule, httpModuleOptionsSchema, type HttpModuleOptions, type HttpLoginBody } from './http';
export { loadCustomModule, resolveModuleSpecifier, type CustomModuleSpec } from './custom';

/** Builds the instance factory of one configured module (`type` selects the built-in or loads a custom one). */
export type ModuleBuilder = (config: LoginModuleConfig, baseDir: string, log: Logger) => () => LoginModule;

/** The login module types, by `type:` name. */
export const LOGIN_MODULE_TYPES: ReadonlyMap<LoginModuleConfig['type'], ModuleBuilder> = new Map<LoginModuleConfig['type'], ModuleBuilder>([
  ['file', (c, dir, log) => (c.type === 'file' ? fileModuleFactory(c.options, dir, log) : unreachable(c))],
  ['jwt', (c, dir, log) => (c.type === 'jwt' ? jwtModuleFactory(c.options, dir, log) : unreachable(c))],
  ['http', (c, _dir, log) => (c.type === 'http' ? httpModuleFactory(c.options, log) : unreachable(c))],
  ['custom', (c, dir) => (c.type === 'custom' ? loadCustomModule(c.export === undefined ? { module: c.module } : { module: c.module, export: c.export }, dir) : unreachable(c))],
]);

function unreachable(c: LoginModuleConfig): never {
  throw new Error(`login module type ${c.type} reached the wrong builder`);
}
