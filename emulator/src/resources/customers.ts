import type { Route } from '../core/http';

export const routes: Route[] = [];
