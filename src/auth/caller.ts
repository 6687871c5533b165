/** Who is asking. `accountId` is the JWT's `sub`: every query and subscription is scoped to it. */
export type Role = 'admin' | 'service';

export interface AuthenticatedCaller {
  kind: 'authenticated';
  accountId: string;
  email: string | null;
  roles: ReadonlySet<Role>;
}

export interface AnonymousCaller {
  kind: 'anonymous';
}

export type Caller = AuthenticatedCaller | AnonymousCaller;

export const ANONYMOUS: AnonymousCaller = { kind: 'anonymous' };

export function hasRole(caller: Caller, role: Role): boolean {
  return caller.kind === 'authenticated' && caller.roles.has(role);
}
