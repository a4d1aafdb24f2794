import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import tls, { type SecureContext, type SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import { SECURITY_DEFAULTS } from './defaults';
import { errorText } from './realm';
import type { TlsConfig } from './schema';

interface Loaded {
  readonly certPath: string;
  readonly keyPath: string;
  readonly names: readonly string[];
  readonly isDefault: boolean;
  context: SecureContext;
  pem: { cert: Buffer; key: Buffer };
  sig: string;
}

function fileSig(path: string): string {
  const s = statSync(path);
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
}

/** Host names of a certificate: DNS entries of its subjectAltName, else its CN. */
export function certificateNames(pem: Buffer): string[] {
  const x = new X509Certificate(pem);
  const san = x.subjectAltName;
  if (san) {
    const dns = san
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4).toLowerCase());
    if (dns.length) return dns;
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x.subject);
  return cn ? [cn[1].toLowerCase()] : [];
}

/**
 * TLS contexts for the gateway's secure listeners: several certificates chosen by SNI (exact names
 * and `*.domain` wildcards matching one label, then the default certificate), a minimum TLS
 * version, and renewal without restart: every `reloadCheckMs` (and on `checkNow()`) the certificate
 * and key files are checked, and changed ones are loaded into new contexts that the SNI callback
 * serves to the next handshakes (and that attached servers use for clients without SNI). A renewal
 * that fails to load (half-written files, a key that does not match) keeps the old context and logs
 * a warning.
 */
export class TlsContextManager {
  private readonly entries: Loaded[];
  private readonly exact = new Map<string, Loaded>();
  private readonly wildcard = new Map<string, Loaded>();
  private readonly servers = new Set<tls.Server>();
  private timer: NodeJS.Timeout | undefined;

  /** Loads every certificate now; throws naming the file when one cannot be used. */
  constructor(
    private readonly config: TlsConfig,
    private readonly log: Logger,
    baseDir: string = process.cwd(),
  ) {
    this.entries = config.certificates.map((c, i) => {
      const certPath = resolve(baseDir, c.cert);
      const keyPath = resolve(baseDir, c.key);
      try {
        const pem = { cert: readFileSync(certPath), key: readFileSync(keyPath) };
        const names = c.names ? c.names.map((n) => n.toLowerCase()) : certificateNames(pem.cert);
        return {
          certPath,
          keyPath,
          names,
          isDefault: c.default === true || (i === 0 && !config.certificates.some((x) => x.default === true)),
          context: this.build(pem),
          pem,
          sig: `${fileSig(certPath)}|${fileSig(keyPath)}`,
        };
      } catch (err) {
        throw new Error(`tls.certificates[${i}] (${certPath}): ${errorText(err)}`, { cause: err });
      }
    });
    this.index();
  }

  /** The minimum TLS version in force. */
  get minVersion(): 'TLSv1.2' | 'TLSv1.3' {
    return this.config.minVersion;
  }

  /**
   * Options for `https.createServer` / `tls.createServer`: the default certificate, the minimum
   * version and the SNI callback. Pass the server to `attach` so renewals of the default
   * certificate reach clients that send no SNI.
   */
  serverOptions(): tls.TlsOptions {
    const def = this.defaultEntry();
    return {
      cert: def.pem.cert,
      key: def.pem.key,
      minVersion: this.config.minVersion,
      SNICallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => cb(null, this.contextFor(servername)),
    };
  }

  /** Keeps a server's default context in step with renewals. */
  attach(server: tls.Server): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
  }

  /** The context for an SNI name: exact match, then `*.` wildcard one label deep, then the default. */
  contextFor(servername: string | undefined): SecureContext {
    const name = (servername ?? '').toLowerCase();
    const exact = this.exact.get(name);
    if (exact) return exact.context;
    const dot = name.indexOf('.');
    if (dot > 0) {
      const wild = this.wildcard.get(name.slice(dot + 1));
      if (wild) return wild.context;
    }
    return this.defaultEntry().context;
  }

  /** Starts the periodic renewal check (`reloadCheckMs`); it does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.checkNow(), this.config.reloadCheckMs ?? SECURITY_DEFAULTS.tlsReloadCheckMs);
    this.timer.unref();
  }

  /** Stops the periodic check. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Checks every certificate and key file now and loads the changed ones; returns how many were reloaded. */
  checkNow(): number {
    let reloaded = 0;
    for (const e of this.entries) {
      let sig: string;
      try {
        sig = `${fileSig(e.certPath)}|${fileSig(e.keyPath)}`;
      } catch (err) {
        this.log.warn({ event: 'tls.unreadable', cert: e.certPath, err: errorText(err) }, 'certificate file cannot be read; keeping the loaded one');
        continue;
      }
      if (sig === e.sig) continue;
      try {
        const pem = { cert: readFileSync(e.certPath), key: readFileSync(e.keyPath) };
        e.context = this.build(pem);
        e.pem = pem;
        e.sig = sig;
        reloaded++;
        this.log.info({ event: 'tls.reloaded', cert: e.certPath, names: e.names }, 'certificate reloaded');
        if (e.isDefault) for (const s of this.servers) s.setSecureContext({ cert: pem.cert, key: pem.key, minVersion: this.config.minVersion });
      } catch (err) {
        this.log.warn({ event: 'tls.reload-failed', cert: e.certPath, err: errorText(err) }, 'renewed certificate could not be loaded; keeping the previous one');
      }
    }
    return reloaded;
  }

  private build(pem: { cert: Buffer; key: Buffer }): SecureContext {
    const options: SecureContextOptions = { cert: pem.cert, key: pem.key, minVersion: this.config.minVersion };
    return tls.createSecureContext(options);
  }

  private defaultEntry(): Loaded {
    return this.entries.find((e) => e.isDefault) ?? this.entries[0];
  }

  private index(): void {
    for (const e of this.entries) {
      for (const n of e.names) {
        if (n.startsWith('*.')) {
          if (!this.wildcard.has(n.slice(2))) this.wildcard.set(n.slice(2), e);
        } else if (!this.exact.has(n)) this.exact.set(n, e);
      }
    }
  }
}
