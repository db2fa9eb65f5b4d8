import type { PortAttributes } from "./schema";

/** A `docker -p` style publish, reduced to what a forward needs. */
export interface PortPublish {
  readonly containerPort: number;
  readonly localPort: number;
  /** Local address to listen on when the publish named one (e.g. 127.0.0.1). */
  readonly localAddress?: string;
}

/** Most ports a single range may expand to before we call it a mistake. */
const maxRange = 100;

/**
 * Parses `appPort` strings and `-p` values: `3000`, `8000:3000`, `127.0.0.1:8000:3000`,
 * `3000-3002:3000-3002`, optionally `/tcp`. UDP is not forwardable (forwards are TCP streams).
 */
export function parsePublish(text: string): { readonly ports: PortPublish[] } | { readonly reason: string } {
  let spec = text.trim();
  const slash = spec.lastIndexOf("/");
  if (slash >= 0) {
    const protocol = spec.slice(slash + 1).toLowerCase();
    if (protocol !== "tcp")
      return { reason: `"${text}": ${protocol} ports cannot be forwarded (forwards carry TCP)` };
    spec = spec.slice(0, slash);
  }
  const parts = spec.split(":");
  let address: string | undefined;
  let local: string;
  let container: string;
  if (parts.length === 1) {
    local = container = parts[0]!;
  } else if (parts.length === 2) {
    [local, container] = parts as [string, string];
  } else if (parts.length === 3) {
    [address, local, container] = parts as [string, string, string];
  } else {
    return { reason: `"${text}" is not a port publish (expected [address:]local:container)` };
  }
  const containerRange = parseRange(container);
  const localRange = local === "" ? containerRange : parseRange(local);
  if (!containerRange || !localRange)
    return { reason: `"${text}" is not a port publish (expected [address:]local:container)` };
  const count = containerRange[1] - containerRange[0] + 1;
  if (localRange[1] - localRange[0] + 1 !== count)
    return { reason: `"${text}": local and container ranges differ in size` };
  if (count > maxRange)
    return { reason: `"${text}": a range of ${count} ports is more than ${maxRange} forwards` };
  const ports: PortPublish[] = [];
  for (let i = 0; i < count; i++) {
    ports.push({
      containerPort: containerRange[0] + i,
      localPort: localRange[0] + i,
      ...(address ? { localAddress: address } : {}),
    });
  }
  return { ports };
}

function parseRange(text: string): [number, number] | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : Number(m[2]);
  if (low < 1 || high > 65535 || high < low) return undefined;
  return [low, high];
}

/**
 * The attributes that apply to a port: a `portsAttributes` entry keyed by the port number or a
 * range containing it, else `otherPortsAttributes`. Keys that are regular expressions match a
 * process command line, known only once something listens; the executor may apply them then.
 */
export function attributesFor(
  port: number,
  portsAttributes: Readonly<Record<string, PortAttributes>> | undefined,
  other: PortAttributes | undefined,
): { attributes: PortAttributes | undefined; key: string | undefined } {
  for (const [key, attributes] of Object.entries(portsAttributes ?? {})) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(key);
    if (!m) continue;
    const low = Number(m[1]);
    const high = m[2] === undefined ? low : Number(m[2]);
    if (port >= low && port <= high) return { attributes, key };
  }
  return { attributes: other, key: other ? "otherPortsAttributes" : undefined };
}
