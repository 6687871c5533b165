import type { Method, Route } from './http';

interface Compiled {
  route: Route;
  segments: string[];
  /** Sort key: literal segments before `:params`, position by position. */
  rank: string;
}

export type RouteMatch =
  | { kind: 'found'; route: Route; pathParams: Record<string, string> }
  | { kind: 'none' };

/** Method + path pattern → route. `/v1/customers/search` wins over `/v1/customers/:id`. */
export class Router {
  private routes: Compiled[] = [];

  add(route: Route): void {
    const segments = route.path.split('/').filter(Boolean);
    const rank = segments.map((s) => (s.startsWith(':') ? '1' : '0')).join('');
    this.routes.push({ route, segments, rank });
    this.routes.sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0));
  }

  match(method: Method, path: string): RouteMatch {
    const parts = path.split('/').filter(Boolean);
    for (const c of this.routes) {
      if (c.route.method !== method || c.segments.length !== parts.length) continue;
      const pathParams: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = c.segments[i];
        if (seg.startsWith(':')) pathParams[seg.slice(1)] = decodeURIComponent(parts[i]);
        else ok = seg === parts[i];
      }
      if (ok) return { kind: 'found', route: c.route, pathParams };
    }
    return { kind: 'none' };
  }

  list(): Route[] {
    return this.routes.map((c) => c.route);
  }
}
