/** Who is asking. `accountId` is the JWT's `sub`: every query and subscription is scoped to it. */
export type Role = 'admin' | 'service';

export interface AuthenticatedCaller {
  kind: 'authenticated';
  accountId: string;
  email: string | null;
  roles: ReadonlySet<Role>;
  /**
   * When the token stops being valid (its `exp`). A request checks it once; a WebSocket, authenticated once at
   * `connection_init`, refuses new operations from then on and is closed with 4403 at that moment.
   */
  expiresAt: Date | null;
}

export interface AnonymousCaller {
  kind: 'anonymous';
}

export type Caller = AuthenticatedCaller | AnonymousCaller;

export const ANONYMOUS: AnonymousCaller = { kind: 'anonymous' };

export function hasRole(caller: Caller, role: Role): boolean {
  return caller.kind === 'authenticated' && caller.roles.has(role);
}
