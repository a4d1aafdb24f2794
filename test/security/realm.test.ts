/**
 * JAAS LoginContext semantics of `Realm`, table-driven: every chain of 1 to 3 modules, each module
 * with every outcome (success, failure, ignore, throw) and every flag, checked against a reference
 * written from the LoginContext documentation:
 *
 * - Required: must succeed; whether it succeeds or fails, the chain goes on.
 * - Requisite: must succeed; if it succeeds the chain goes on, if it fails control returns at once.
 * - Sufficient: need not succeed; if it succeeds control returns at once (provided no required or
 *   requisite module failed before it), if it fails the chain goes on.
 * - Optional: need not succeed; the chain goes on either way.
 * - Overall success needs every required and requisite module that ran to have succeeded (a module
 *   that asks to be ignored is disregarded); with a sufficient success only those before it count;
 *   and at least one module must have succeeded.
 * - Phase two: on overall success every module's commit is called, on failure every module's abort.
 */
import { Realm, type RealmEntry, type ControlFlag, type LoginModule, type Subject, CONTROL_FLAGS } from '../../security';
import { captureLogger } from './support';

type Behaviour = 'success' | 'failure' | 'ignore' | 'throw';
const BEHAVIOURS: readonly Behaviour[] = ['success', 'failure', 'ignore', 'throw'];

interface Step {
  readonly flag: ControlFlag;
  readonly behaviour: Behaviour;
}

interface Calls {
  login: boolean;
  commit: boolean;
  abort: boolean;
  logout: boolean;
}

/** Reference: which modules `login` reaches, and the overall verdict. */
function reference(chain: readonly Step[]): { reached: number; ok: boolean } {
  const good = (s: Step): boolean => s.behaviour === 'success';
  const bad = (s: Step): boolean => s.behaviour === 'failure' || s.behaviour === 'throw';
  const mandatory = (s: Step): boolean => s.flag === 'required' || s.flag === 'requisite';
  let reached = chain.length;
  for (let i = 0; i < chain.length; i++) {
    const s = chain[i];
    const earlierMandatoryFailed = chain.slice(0, i).some((p) => mandatory(p) && bad(p));
    if (s.flag === 'requisite' && bad(s)) {
      reached = i + 1;
      break;
    }
    if (s.flag === 'sufficient' && good(s) && !earlierMandatoryFailed) {
      reached = i + 1;
      break;
    }
  }
  const ran = chain.slice(0, reached);
  const mandatoryOk = ran.filter(mandatory).every((s) => !bad(s));
  const someoneSucceeded = ran.some(good);
  return { reached, ok: mandatoryOk && someoneSucceeded };
}

function combos(length: number): Step[][] {
  const single: Step[] = CONTROL_FLAGS.flatMap((flag) => BEHAVIOURS.map((behaviour) => ({ flag, behaviour })));
  let out: Step[][] = [[]];
  for (let i = 0; i < length; i++) out = out.flatMap((prefix) => single.map((s) => [...prefix, s]));
  return out;
}

class ScriptedModule implements LoginModule {
  private succeeded = false;
  constructor(
    private readonly name: string,
    private readonly behaviour: Behaviour,
    private readonly calls: Calls,
  ) {}
  async login(): Promise<boolean | 'ignore'> {
    this.calls.login = true;
    if (this.behaviour === 'throw') throw new Error(`${this.name} broke`);
    if (this.behaviour === 'ignore') return 'ignore';
    this.succeeded = this.behaviour === 'success';
    return this.succeeded;
  }
  commit(subject: Subject): void {
    this.calls.commit = true;
    if (!this.succeeded) return;
    subject.setUser(this.name);
    subject.addRoles([`role-${this.name}`]);
  }
  abort(): void {
    this.calls.abort = true;
  }
  logout(): void {
    this.calls.logout = true;
  }
}

function realmOf(chain: readonly Step[]): { realm: Realm; calls: Calls[] } {
  const calls: Calls[] = chain.map(() => ({ login: false, commit: false, abort: false, logout: false }));
  const entries: RealmEntry[] = chain.map((s, i) => ({
    name: `m${i}`,
    flag: s.flag,
    options: {},
    create: () => new ScriptedModule(`m${i}`, s.behaviour, calls[i]),
  }));
  return { realm: new Realm('test', entries, captureLogger().log), calls };
}

const request = { realm: 'test', credentials: { scheme: 'none' as const }, remoteAddress: '127.0.0.1', headers: {} };

function describeChain(chain: readonly Step[]): string {
  return chain.map((s) => `${s.flag}:${s.behaviour}`).join(' ');
}

describe('Realm: JAAS flag semantics over every chain of 1-3 modules', () => {
  for (const length of [1, 2, 3]) {
    const all = combos(length);
    it(`agrees with the reference on all ${all.length} chains of ${length}: verdict, modules asked, committed and aborted`, async () => {
      const mismatches: string[] = [];
      for (const chain of all) {
        const expected = reference(chain);
        const { realm, calls } = realmOf(chain);
        const result = await realm.login(request);
        const asked = calls.map((c) => c.login);
        const expectedAsked = chain.map((_, i) => i < expected.reached);
        const committed = calls.map((c) => c.commit);
        const aborted = calls.map((c) => c.abort);
        const problems: string[] = [];
        if (result.ok !== expected.ok) problems.push(`ok=${result.ok} expected ${expected.ok}`);
        if (asked.join() !== expectedAsked.join()) problems.push(`asked=${asked.join()} expected ${expectedAsked.join()}`);
        if (committed.join() !== chain.map(() => expected.ok).join()) problems.push(`committed=${committed.join()}`);
        if (aborted.join() !== chain.map(() => !expected.ok).join()) problems.push(`aborted=${aborted.join()}`);
        if (result.trace.some((t) => t.phase2 !== (expected.ok ? 'commit' : 'abort'))) problems.push('trace phase2 wrong');
        if (problems.length) mismatches.push(`${describeChain(chain)}: ${problems.join('; ')}`);
      }
      expect(mismatches).toEqual([]);
    });
  }

  it('the reference itself encodes the documented examples', () => {
    const c = (...s: [ControlFlag, Behaviour][]): Step[] => s.map(([flag, behaviour]) => ({ flag, behaviour }));
    expect(reference(c(['requisite', 'failure'], ['sufficient', 'success']))).toEqual({ reached: 1, ok: false });
    expect(reference(c(['sufficient', 'success'], ['required', 'failure']))).toEqual({ reached: 1, ok: true });
    expect(reference(c(['required', 'failure'], ['sufficient', 'success']))).toEqual({ reached: 2, ok: false });
    expect(reference(c(['optional', 'failure'], ['optional', 'ignore']))).toEqual({ reached: 2, ok: false });
    expect(reference(c(['optional', 'failure'], ['optional', 'success']))).toEqual({ reached: 2, ok: true });
    expect(reference(c(['required', 'ignore'], ['optional', 'success']))).toEqual({ reached: 2, ok: true });
    expect(reference(c(['required', 'ignore']))).toEqual({ reached: 1, ok: false });
  });

  it('commits principals of the successful modules only, and logs out every module of the attempt', async () => {
    const chain: Step[] = [
      { flag: 'optional', behaviour: 'failure' },
      { flag: 'required', behaviour: 'success' },
      { flag: 'optional', behaviour: 'success' },
    ];
    const { realm, calls } = realmOf(chain);
    const result = await realm.login(request);
    if (!result.ok) throw new Error('expected success');
    expect(result.subject.user).toBe('m1');
    expect([...result.subject.roles].sort()).toEqual(['role-m1', 'role-m2']);
    expect(result.trace.map((t) => t.login)).toEqual(['failure', 'success', 'success']);
    await realm.logout(result.subject);
    expect(calls.map((c) => c.logout)).toEqual([true, true, true]);
    calls.forEach((c) => (c.logout = false));
    await realm.logout(result.subject);
    expect(calls.map((c) => c.logout)).toEqual([false, false, false]);
  });

  it('reports a thrown module as an error in the trace and treats it as a failure', async () => {
    const { realm } = realmOf([{ flag: 'required', behaviour: 'throw' }]);
    const result = await realm.login(request);
    expect(result.ok).toBe(false);
    expect(result.trace[0].login).toBe('error');
    if (!result.ok) expect(result.reason).toBe('failed');
  });

  it('says "ignored" when every module ignored the attempt', async () => {
    const { realm } = realmOf([{ flag: 'required', behaviour: 'ignore' }, { flag: 'optional', behaviour: 'ignore' }]);
    const result = await realm.login(request);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toBe('ignored');
  });

  it('refuses a realm without modules', () => {
    expect(() => new Realm('empty', [], captureLogger().log)).toThrow('realm empty has no login modules');
  });
});
