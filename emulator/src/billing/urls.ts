/**
 * Absolute URLs of the emulator's hosted pages (invoices, Checkout, portal). The emulator learns
 * its own origin from the `Host` header of API requests (clients reach it at that address), with
 * 127.0.0.1:12111 until the first request.
 */
import type { Emulator } from './context';

const origins = new WeakMap<Emulator, string>();

export function learnOrigin(emulator: Emulator, host: string | undefined): void {
  if (host) origins.set(emulator, `http://${host}`);
}

function origin(emulator: Emulator): string {
  return origins.get(emulator) ?? 'http://127.0.0.1:12111';
}

export function hostedUrl(emulator: Emulator, path: string): string {
  return `${origin(emulator)}${path}`;
}
