import type * as Jose from 'jose';

/** The `jose` module's namespace type. */
export type JoseModule = typeof Jose;

let loading: Promise<JoseModule> | null = null;

// A real dynamic import, kept out of the CommonJS rewrite TypeScript applies to `import()`.
const nativeImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<JoseModule>;

function isRequireEsmError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && (err as { code: unknown }).code === 'ERR_REQUIRE_ESM';
}

/**
 * Loads `jose` (an ES module) once. `require` works on Node versions that load ES modules
 * synchronously; older ones get a real dynamic import.
 */
export function loadJose(): Promise<JoseModule> {
  if (!loading) {
    loading = import('jose').catch((err: unknown) => {
      if (isRequireEsmError(err)) return nativeImport('jose');
      throw err;
    });
  }
  return loading;
}
