import { createHmac } from 'node:crypto';
import { cookieValue } from '../protocol/head';

/** Most slots a cookie may name (`--workers` is at most 1024). */
const MAX_SLOT = 1024;
/** 96 bits of HMAC-SHA256: nobody makes a cookie for a slot without the secret. */
const MAC_CHARS = 16;

/**
 * The cookie that keeps a visitor on one worker (`--sticky cookie`): `corral_<port>=<slot
 * base36>.<mac>`, the MAC keyed with a secret the primary draws at start and over this host's
 * id and the slot, so a visitor cannot forge one for a slot that was never issued, and a
 * cookie of another host or an earlier run names no slot here. The port is in the name
 * because a browser sends a host's cookies to every port of it.
 *
 * Checking one costs a string comparison: each slot's value is computed once.
 */
export class SlotCookies {
  readonly name: string;
  readonly #secret: string;
  readonly #hostId: string;
  readonly #values: string[] = [];

  constructor(hostId: string, secret: string, port: number) {
    this.name = `corral_${port}`;
    this.#secret = secret;
    this.#hostId = hostId;
  }

  /** The cookie value naming `slot`. */
  valueFor(slot: number): string {
    let value = this.#values[slot];
    if (value === undefined) {
      const mac = createHmac('sha256', this.#secret).update(`${this.#hostId}.${slot}`).digest('base64url').slice(0, MAC_CHARS);
      value = `${slot.toString(36)}.${mac}`;
      this.#values[slot] = value;
    }
    return value;
  }

  /** The slot a `Cookie` header's corral cookie names, or -1 (none, forged, of another host or run). */
  slotOf(cookieHeader: string | undefined): number {
    const value = cookieValue(cookieHeader, this.name);
    if (value === undefined) return -1;
    const dot = value.indexOf('.');
    if (dot < 1 || dot > 3) return -1;
    const slot = Number.parseInt(value.slice(0, dot), 36);
    if (!(slot >= 0 && slot < MAX_SLOT)) return -1;
    return value === this.valueFor(slot) ? slot : -1;
  }

  /** The `Set-Cookie` value that sends a visitor back to `slot`: for this browser session, every path, never to scripts. */
  setCookie(slot: number): string {
    return `${this.name}=${this.valueFor(slot)}; Path=/; HttpOnly; SameSite=Lax`;
  }
}
