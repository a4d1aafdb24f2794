/**
 * The authenticated party of a session: who it is, its roles and claims, and when the credential
 * that proves it expires. Login modules fill it in `commit`.
 */

/** A plain copy of a subject, as carried by tickets and session cookies. */
export interface SubjectSnapshot {
  readonly realm: string;
  readonly user: string;
  readonly roles: readonly string[];
  /** Epoch milliseconds at which the credential expires; absent when it does not. */
  readonly expiresAt?: number;
}

/** Who a session belongs to. */
export class Subject {
  private userName: string | undefined;
  private readonly roleSet = new Set<string>();
  private readonly claimMap: Record<string, unknown> = {};
  private expiry: number | undefined;

  /** @param realm The realm that authenticated the subject. */
  constructor(readonly realm: string) {}

  /** Builds a subject from a snapshot (ticket or cookie). */
  static fromSnapshot(s: SubjectSnapshot): Subject {
    const subject = new Subject(s.realm);
    subject.setUser(s.user);
    subject.addRoles(s.roles);
    if (s.expiresAt !== undefined) subject.limitExpiry(s.expiresAt);
    return subject;
  }

  /** The user name; the first module to commit one wins. */
  get user(): string | undefined {
    return this.userName;
  }

  /** The roles every committed module granted. */
  get roles(): ReadonlySet<string> {
    return this.roleSet;
  }

  /** Claims the modules recorded (token claims, endpoint attributes). */
  get claims(): Readonly<Record<string, unknown>> {
    return this.claimMap;
  }

  /** Epoch milliseconds at which the earliest credential expires; undefined when none does. */
  get expiresAt(): number | undefined {
    return this.expiry;
  }

  /** Sets the user name unless a module committed one already. */
  setUser(name: string): void {
    if (this.userName === undefined) this.userName = name;
  }

  /** Adds roles. */
  addRoles(roles: Iterable<string>): void {
    for (const r of roles) this.roleSet.add(r);
  }

  /** Records a claim (a later module does not overwrite an earlier one). */
  addClaim(name: string, value: unknown): void {
    if (!(name in this.claimMap)) this.claimMap[name] = value;
  }

  /** Lowers the expiry to `at` (epoch ms) when it is earlier than the current one. */
  limitExpiry(at: number): void {
    if (this.expiry === undefined || at < this.expiry) this.expiry = at;
  }

  /** Replaces the expiry (after a refresh); undefined removes it. */
  replaceExpiry(at: number | undefined): void {
    this.expiry = at;
  }

  /** A plain copy for tickets and cookies; requires a user name. */
  snapshot(): SubjectSnapshot {
    if (this.userName === undefined) throw new Error('a subject without a user name cannot be carried');
    const base = { realm: this.realm, user: this.userName, roles: [...this.roleSet] };
    return this.expiry === undefined ? base : { ...base, expiresAt: this.expiry };
  }
}
