import type { Logger } from 'pino';
import type { ControlFlag, LoginModule, LoginRequest, ModuleEnvironment } from './login-module';
import { Subject } from './subject';

/** One module of a realm's chain: how to make an instance, its flag and its options. */
export interface RealmEntry {
  /** Name in logs and traces. */
  readonly name: string;
  readonly flag: ControlFlag;
  /** Makes a fresh instance for one login attempt. */
  create(): LoginModule;
  readonly options: Readonly<Record<string, unknown>>;
}

/** What happened to one module during a login attempt. */
export interface ModuleTrace {
  readonly name: string;
  readonly flag: ControlFlag;
  /** `not-called` when the chain stopped before the module. */
  readonly login: 'success' | 'failure' | 'ignore' | 'error' | 'not-called';
  /** Phase two: committed on overall success, aborted on failure. */
  readonly phase2: 'commit' | 'abort';
}

/** Result of a realm login. */
export type RealmLoginResult =
  | { readonly ok: true; readonly subject: Subject; readonly trace: readonly ModuleTrace[] }
  | {
      readonly ok: false;
      /** `failed`: a module refused; `ignored`: no module succeeded nor failed a required step. */
      readonly reason: 'failed' | 'ignored' | 'commit-failed';
      readonly trace: readonly ModuleTrace[];
    };

type Outcome = ModuleTrace['login'];

/**
 * Decides the overall outcome of phase one from the modules' outcomes, as JAAS `LoginContext`
 * does: a requisite failure stops the chain; a sufficient success stops it when no required or
 * requisite module failed before it; the chain succeeds when no required or requisite module failed
 * and at least one module succeeded. Returns how many modules were asked and the verdict.
 */
export function evaluateChain(flags: readonly ControlFlag[], outcomeAt: (i: number) => Outcome): { asked: number; ok: boolean } {
  let requiredFailed = false;
  let succeeded = false;
  for (let i = 0; i < flags.length; i++) {
    const outcome = outcomeAt(i);
    const flag = flags[i];
    if (outcome === 'success') {
      if (flag === 'sufficient' && !requiredFailed) return { asked: i + 1, ok: true };
      succeeded = true;
    } else if (outcome === 'failure' || outcome === 'error') {
      if (flag === 'requisite') return { asked: i + 1, ok: false };
      if (flag === 'required') requiredFailed = true;
    }
  }
  return { asked: flags.length, ok: !requiredFailed && succeeded };
}

interface Committed {
  readonly instances: readonly LoginModule[];
}

/**
 * A named, ordered chain of login modules evaluated with JAAS `LoginContext` semantics: phase one
 * asks the modules in order per their flags, phase two commits every module on overall success or
 * aborts every module on failure. `logout` runs every module's `logout` for a committed subject.
 */
export class Realm {
  private readonly committed = new WeakMap<Subject, Committed>();

  constructor(
    readonly name: string,
    private readonly entries: readonly RealmEntry[],
    private readonly log: Logger,
    private readonly baseDir: string = process.cwd(),
  ) {
    if (entries.length === 0) throw new Error(`realm ${name} has no login modules`);
  }

  /** The module names and flags, in order. */
  get chain(): readonly { name: string; flag: ControlFlag }[] {
    return this.entries.map((e) => ({ name: e.name, flag: e.flag }));
  }

  /** Runs both phases for one attempt. Never rejects: module errors count as failures. */
  async login(request: LoginRequest): Promise<RealmLoginResult> {
    const instances: LoginModule[] = [];
    const outcomes: Outcome[] = this.entries.map(() => 'not-called');
    for (const entry of this.entries) instances.push(entry.create());
    const flags = this.entries.map((e) => e.flag);
    const initialized: boolean[] = this.entries.map(() => false);

    const ask = async (i: number): Promise<Outcome> => {
      const entry = this.entries[i];
      const module = instances[i];
      initialized[i] = true;
      try {
        if (module.initialize) await module.initialize(entry.options, this.env(entry));
        const r = await module.login(request);
        return r === true ? 'success' : r === 'ignore' ? 'ignore' : 'failure';
      } catch (err) {
        this.log.warn({ event: 'login.module.error', realm: this.name, module: entry.name, err: errorText(err) }, 'login module failed with an error');
        return 'error';
      }
    };

    // Phase one: ask the modules in order until a stop rule fires.
    let requiredFailed = false;
    for (let i = 0; i < this.entries.length; i++) {
      const o = await ask(i);
      outcomes[i] = o;
      const failed = o === 'failure' || o === 'error';
      if (o === 'success' && flags[i] === 'sufficient' && !requiredFailed) break;
      if (failed && flags[i] === 'requisite') break;
      if (failed && flags[i] === 'required') requiredFailed = true;
    }
    const { ok, asked } = evaluateChain(flags, (i) => outcomes[i]);
    // Modules the chain did not reach still take part in phase two, initialized first.
    for (let i = 0; i < this.entries.length; i++) {
      if (!initialized[i] && instances[i].initialize) {
        try {
          await instances[i].initialize?.(this.entries[i].options, this.env(this.entries[i]));
        } catch (err) {
          this.log.warn({ event: 'login.module.error', realm: this.name, module: this.entries[i].name, err: errorText(err) }, 'login module failed to initialize');
        }
      }
    }

    const trace = (phase2: 'commit' | 'abort'): ModuleTrace[] =>
      this.entries.map((e, i) => ({ name: e.name, flag: e.flag, login: outcomes[i], phase2 }));
    const user = request.credentials.scheme === 'basic' ? request.credentials.username : undefined;

    if (ok) {
      const subject = new Subject(this.name);
      let commitFailed = false;
      for (let i = 0; i < instances.length; i++) {
        try {
          await instances[i].commit(subject);
        } catch (err) {
          commitFailed = true;
          this.log.warn({ event: 'login.commit.error', realm: this.name, module: this.entries[i].name, err: errorText(err) }, 'login module failed to commit');
        }
      }
      if (!commitFailed && subject.user !== undefined) {
        this.committed.set(subject, { instances });
        this.log.debug({ event: 'login.success', realm: this.name, user: subject.user, scheme: request.credentials.scheme, remote: request.remoteAddress, asked }, 'login succeeded');
        return { ok: true, subject, trace: trace('commit') };
      }
      if (!commitFailed) this.log.warn({ event: 'login.no-user', realm: this.name }, 'login succeeded but no module committed a user name');
      await this.abortAll(instances);
      return { ok: false, reason: 'commit-failed', trace: trace('abort') };
    }
    await this.abortAll(instances);
    const failed = outcomes.some((o) => o === 'failure' || o === 'error');
    this.log.debug(
      { event: 'login.failure', realm: this.name, user, scheme: request.credentials.scheme, remote: request.remoteAddress, outcomes: this.entries.map((e, i) => `${e.name}:${outcomes[i]}`) },
      'login refused',
    );
    return { ok: false, reason: failed ? 'failed' : 'ignored', trace: trace('abort') };
  }

  /** Calls `logout` on every module of the attempt that produced `subject`; once per subject. */
  async logout(subject: Subject): Promise<void> {
    const c = this.committed.get(subject);
    if (!c) return;
    this.committed.delete(subject);
    for (let i = 0; i < c.instances.length; i++) {
      try {
        await c.instances[i].logout(subject);
      } catch (err) {
        this.log.warn({ event: 'logout.error', realm: this.name, module: this.entries[i].name, err: errorText(err) }, 'login module failed to log out');
      }
    }
  }

  private async abortAll(instances: readonly LoginModule[]): Promise<void> {
    for (let i = 0; i < instances.length; i++) {
      try {
        await instances[i].abort();
      } catch (err) {
        this.log.warn({ event: 'login.abort.error', realm: this.name, module: this.entries[i].name, err: errorText(err) }, 'login module failed to abort');
      }
    }
  }

  private env(entry: RealmEntry): ModuleEnvironment {
    return { realm: this.name, name: entry.name, log: this.log.child({ realm: this.name, module: entry.name }), baseDir: this.baseDir };
  }
}

/** An error's message for logs (never the credentials: modules must not put them in messages). */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
