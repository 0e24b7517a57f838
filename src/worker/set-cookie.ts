import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

type WriteHead = ServerResponse['writeHead'];

/**
 * Add `cookie` to the response's `Set-Cookie` header when its head is written, after the
 * app's own cookies, never in place of them. The head is written by `writeHead` in every case
 * (`res.end()` and `res.write()` without it call it too), so this one instance's `writeHead`
 * is wrapped; headers passed to it override those set before, so a `Set-Cookie` among them
 * gets ours appended there.
 */
export function appendSetCookie(res: ServerResponse, cookie: string): void {
  const writeHead = res.writeHead as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
  res.writeHead = function writeHeadWithCookie(this: ServerResponse, ...args: unknown[]): ServerResponse {
    res.writeHead = writeHead as WriteHead;
    const at = typeof args[1] === 'string' ? 2 : 1;
    const given = args[at];
    if (Array.isArray(given)) {
      // Node's flat form, [name, value, name, value, ...]: duplicates are allowed.
      args[at] = [...(given as unknown[]), 'Set-Cookie', cookie];
    } else if (given !== null && typeof given === 'object' && setCookieKey(given as OutgoingHttpHeaders) !== undefined) {
      const key = setCookieKey(given as OutgoingHttpHeaders)!;
      const headers = { ...(given as OutgoingHttpHeaders) };
      headers[key] = [...values(headers[key]), cookie];
      args[at] = headers;
    } else if (!this.headersSent) {
      this.setHeader('Set-Cookie', [...values(this.getHeader('set-cookie')), cookie]);
    }
    return writeHead.apply(this, args);
  } as WriteHead;
}

function setCookieKey(headers: OutgoingHttpHeaders): string | undefined {
  for (const key of Object.keys(headers)) if (key.toLowerCase() === 'set-cookie') return key;
  return undefined;
}

function values(value: OutgoingHttpHeaders[string]): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value.map(String) : [String(value)];
}
