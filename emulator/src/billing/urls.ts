/**
 * Absolute URLs of the emulator's hosted pages (invoices, Checkout, portal). The emulator learns
 * its own origin from the `Host` header of API requests (clients reach it at that address), with
 * 127.0.0.1:12111 until the first request.
 */
import type { Emulator } from './ctx';

const origins = new WeakMap<Emulator, string>();

export function learnOrigin(emu: Emulator, host: string | undefined): void {
  if (host) origins.set(emu, `http://${host}`);
}

export function origin(emu: Emulator): string {
  return origins.get(emu) ?? 'http://127.0.0.1:12111';
}

export function hostedUrl(emu: Emulator, path: string): string {
  return `${origin(emu)}${path}`;
}
