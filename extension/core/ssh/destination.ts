import { SshError } from "./errors";

/**
 * An ssh destination as the user typed it: an alias from ssh config (`myhost`), `user@host:port`
 * (any part but the host optional) or `ssh://user@host:port`. IPv6 literals go in brackets:
 * `[::1]:2222`. `host` is what ssh config `Host` patterns are matched against.
 */
export interface SshDestination {
  readonly host: string;
  readonly user?: string;
  readonly port?: number;
}

/** Parses a destination; throws SshError `configInvalid` with a one-line reason. */
export function parseDestination(text: string): SshDestination {
  const input = text.trim();
  if (!input) throw invalid(text, "it is empty");
  let rest = input;
  if (/^ssh:\/\//i.test(rest)) {
    rest = rest.slice("ssh://".length).replace(/\/$/, "");
    if (rest.includes("/")) throw invalid(text, "an ssh:// URI takes no path");
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) {
    throw invalid(text, `the scheme ${rest.slice(0, rest.indexOf(":"))}:// is not an ssh destination`);
  }

  let user: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    user = decodeURIComponent(rest.slice(0, at));
    rest = rest.slice(at + 1);
    if (!user) throw invalid(text, "the user name before '@' is empty");
  }

  let host: string;
  let portText: string | undefined;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0) throw invalid(text, "an IPv6 address opened with '[' is not closed");
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after) {
      if (!after.startsWith(":")) throw invalid(text, `unexpected '${after}' after the address`);
      portText = after.slice(1);
    }
  } else {
    const colons = rest.split(":").length - 1;
    if (colons === 1) {
      [host, portText] = rest.split(":") as [string, string];
    } else if (colons > 1) {
      // A bare IPv6 address without a port, as OpenSSH accepts it.
      host = rest;
    } else {
      host = rest;
    }
  }
  if (!host) throw invalid(text, "the host name is empty");
  if (/[\s'"`$;&|<>\\]/.test(host) || host.startsWith("-"))
    throw invalid(text, "the host name contains characters a host name cannot have");
  if (user !== undefined && (/[\s'"`$;&|<>\\]/.test(user) || user.startsWith("-")))
    throw invalid(text, "the user name contains characters a user name cannot have");

  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw invalid(text, `'${portText}' is not a port number`);
    }
    port = Number(portText);
  }
  return { host, ...(user !== undefined ? { user } : {}), ...(port !== undefined ? { port } : {}) };
}

/** Formats a destination back to `user@host:port` (brackets for IPv6), omitting missing parts. */
export function formatDestination(d: SshDestination): string {
  const host = d.host.includes(":") ? `[${d.host}]` : d.host;
  return `${d.user !== undefined ? `${d.user}@` : ""}${host}${d.port !== undefined ? `:${d.port}` : ""}`;
}

function invalid(text: string, why: string): SshError {
  return new SshError("configInvalid", `'${text}' is not a valid ssh destination: ${why}.`, { host: text });
}
