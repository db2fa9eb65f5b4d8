import { createHash } from "node:crypto";
import { isIP } from "node:net";
import type { Logger } from "../../core/log";
import { DevHostError } from "../errors";
import { run } from "./exec";

/** The address a zone got on the dev host bridge. */
export interface ZoneAddress {
  ip: string;
  prefixLength: number;
  gateway: string;
  mac: string;
  hostInterface: string;
  zoneInterface: string;
}

/**
 * The dev host's private network: one Linux bridge per dev host with a /24 out of
 * 198.18.0.0/15 (reserved for benchmarking, so nothing on a developer machine routes it), a veth
 * pair per zone whose zone end is `eth0` in the zone's network namespace. There is no NAT and
 * no forwarding rule: zones reach the host and each other, nothing beyond.
 */
export class BridgeNetwork {
  #used = new Set<number>();
  #up = false;
  #upping: Promise<void> | undefined;

  private constructor(
    readonly bridge: string,
    readonly subnetIndex: number,
    private readonly log: Logger,
  ) {}

  /** Picks a bridge name and a subnet no route on this machine uses yet. */
  static async plan(seed: string, log: Logger): Promise<BridgeNetwork> {
    const hash = createHash("sha256").update(seed).digest();
    const bridge = `szdh${hash.subarray(2, 5).toString("hex")}`;
    // The name follows the (locked) state directory: one that exists was left by a killed run.
    await deleteLinkIfPresent(bridge);
    const taken = await takenSubnets();
    const start = hash[0]! * 2 + (hash[1]! & 1);
    for (let i = 0; i < 512; i++) {
      const index = (start + i) % 512;
      if (!taken.has(index)) return new BridgeNetwork(bridge, index, log);
    }
    throw new DevHostError("unavailable", "no free /24 left in 198.18.0.0/15 for the dev host bridge");
  }

  get prefix(): string {
    return `198.${18 + (this.subnetIndex >> 8)}.${this.subnetIndex & 255}`;
  }

  get gateway(): string {
    return `${this.prefix}.1`;
  }

  /**
   * Creates the bridge once. Zones created back to back both get here before the first `ip link
   * add` finishes, so the creation is shared as one promise (a failed attempt may be retried).
   */
  up(): Promise<void> {
    this.#upping ??= this.#createBridge().then(
      () => {
        this.#up = true;
      },
      (err: unknown) => {
        this.#upping = undefined;
        throw err;
      },
    );
    return this.#upping;
  }

  async #createBridge(): Promise<void> {
    await run("ip", ["link", "add", "name", this.bridge, "type", "bridge"]);
    await run("ip", ["addr", "add", `${this.gateway}/24`, "dev", this.bridge]);
    await run("ip", ["link", "set", this.bridge, "up"]);
    this.log.info(`network: bridge ${this.bridge} ${this.gateway}/24 (no NAT, loopback-only)`);
  }

  async down(): Promise<void> {
    await this.#upping?.catch(() => undefined);
    if (!this.#up) return;
    this.#up = false;
    this.#upping = undefined;
    await run("ip", ["link", "del", this.bridge]).catch((err: unknown) =>
      this.log.warn(`network: cannot remove ${this.bridge}`, err),
    );
  }

  /**
   * Takes a free address on the bridge (creating the bridge first) for a zone whose host end
   * is named `<prefix><zone id>`: "szv" for a veth, "szt" for a VM's tap device.
   */
  async reserve(zoneId: string, prefix: "szv" | "szt"): Promise<ZoneAddress> {
    await this.up();
    let host = 2;
    while (this.#used.has(host) && host < 255) host++;
    if (host >= 255)
      throw new DevHostError("resourceExhausted", "the dev host bridge has no free address left (253 zones)");
    this.#used.add(host);
    const id = zoneId.replace(/-/g, "");
    return {
      ip: `${this.prefix}.${host}`,
      prefixLength: 24,
      gateway: this.gateway,
      mac: `02:5a:${id.slice(0, 2)}:${id.slice(2, 4)}:${id.slice(4, 6)}:${host.toString(16).padStart(2, "0")}`,
      hostInterface: `${prefix}${id.slice(0, 8)}`,
      zoneInterface: "eth0",
    };
  }

  /** Gives the zone whose init is `pid` an eth0 on the bridge. */
  async attach(zoneId: string, pid: number): Promise<ZoneAddress> {
    const address = await this.reserve(zoneId, "szv");
    const { hostInterface, mac } = address;
    const host = Number(address.ip.split(".")[3]);
    try {
      await run("ip", [
        "link",
        "add",
        hostInterface,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "address",
        mac,
        "netns",
        String(pid),
      ]);
      await run("ip", ["link", "set", hostInterface, "master", this.bridge, "up"]);
      const batch = [
        "link set lo up",
        `addr add ${address.ip}/24 dev eth0`,
        "link set eth0 up",
        `route add default via ${address.gateway}`,
      ].join("\n");
      await run("nsenter", ["-t", String(pid), "-n", "ip", "-batch", "-"], { input: `${batch}\n` });
      return address;
    } catch (err) {
      this.#used.delete(host);
      await run("ip", ["link", "del", hostInterface]).catch(() => undefined);
      throw err;
    }
  }

  /** Frees the zone's address; its veth goes with its network namespace, this makes sure. */
  async detach(address: ZoneAddress): Promise<void> {
    const host = Number(address.ip.split(".")[3]);
    this.#used.delete(host);
    await deleteLinkIfPresent(address.hostInterface);
  }
}

/** Removes a network interface if it still exists (used for leftovers after a crash). */
export async function deleteLinkIfPresent(name: string): Promise<void> {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) return;
  const present = await run("ip", ["-o", "link", "show", "dev", name]).then(
    () => true,
    () => false,
  );
  if (present) await run("ip", ["link", "del", name]).catch(() => undefined);
}

/** Indexes (0–511) of the 198.18.0.0/15 /24s that some route or address already uses. */
async function takenSubnets(): Promise<Set<number>> {
  const taken = new Set<number>();
  const text = await run("ip", ["-4", "-o", "route", "show", "table", "all"]).catch(() => "");
  const addrs = await run("ip", ["-4", "-o", "addr", "show"]).catch(() => "");
  for (const m of `${text}\n${addrs}`.matchAll(/\b198\.(18|19)\.(\d{1,3})\.\d{1,3}(?:\/(\d+))?/g)) {
    const index = (Number(m[1]) - 18) * 256 + Number(m[2]);
    const bits = Number(m[3] ?? 32);
    if (bits < 24) {
      // A wider route covers many of our /24s: treat the whole /15 as taken where it overlaps.
      const span = 2 ** (24 - bits);
      const first = index - (index % span);
      for (let i = first; i < first + span && i < 512; i++) taken.add(i);
    } else {
      taken.add(index);
    }
  }
  return taken;
}

/** The socat address for a TCP target; refuses anything that could smuggle socat options. */
export function socatTcpAddress(address: string, port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new DevHostError("invalidArgument", `port ${port} is out of range`);
  const host = address === "" || address === "localhost" ? "127.0.0.1" : address;
  const kind = isIP(host);
  if (kind === 4) return `TCP4:${host}:${port}`;
  if (kind === 6) return `TCP6:[${host}]:${port}`;
  if (/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(host)) return `TCP:${host}:${port}`;
  throw new DevHostError("invalidArgument", `not an IP address or host name: ${JSON.stringify(address)}`);
}
