/**
 * One feature in the dependency graph, reduced to what ordering needs. Identity (`key`) is the
 * source plus its resolved digest plus its options: the same feature with other options is a
 * different node, and installs twice.
 */
export interface OrderNode {
  readonly key: string;
  /** The reference as written (for messages and for sorting nodes of different kinds). */
  readonly userId: string;
  readonly kind: "oci" | "local" | "tarball";
  /**
   * What soft references match: the OCI resource `registry/namespace/id` (and the same namespace
   * with each legacy id), the local folder's path, or the tarball URL.
   */
  readonly matches: readonly string[];
  /** Sort fields within a round: namespace, id, tag, options, digest (OCI); path or URL, options. */
  readonly sort: readonly string[];
  /** Keys of the nodes it depends on (dependsOn: hard, recursive). */
  readonly dependsOn: readonly string[];
  /** Soft dependencies (installsAfter) as match strings; only those present in the graph count. */
  readonly installsAfter: readonly string[];
  /** Raised by overrideFeatureInstallOrder: the first entry of N gets N, the last 1. */
  readonly priority: number;
}

/** The install order, or the features that can never be installed (a dependency cycle). */
export type OrderResult =
  | { readonly order: readonly OrderNode[] }
  | { readonly stuck: readonly OrderNode[]; readonly message: string };

/**
 * Orders features as the spec's installation rounds do: in each round, every feature whose hard
 * dependencies and (present) soft dependencies are installed is eligible; of those only the ones
 * with the highest override priority go in this round, sorted by their sort fields. A round
 * with nothing eligible means a cycle.
 */
export function installOrder(nodes: readonly OrderNode[]): OrderResult {
  const present = new Set(nodes.flatMap((n) => n.matches));
  const remaining = [...nodes];
  const installed: OrderNode[] = [];
  const installedKeys = new Set<string>();
  const installedMatches = new Set<string>();
  while (remaining.length) {
    const eligible = remaining.filter(
      (n) =>
        n.dependsOn.every((k) => installedKeys.has(k)) &&
        n.installsAfter.filter((m) => present.has(m)).every((m) => installedMatches.has(m)),
    );
    if (!eligible.length) {
      const names = remaining.map((n) => n.userId);
      return {
        stuck: remaining,
        message: `features ${names.join(", ")} depend on each other in a cycle (dependsOn/installsAfter); none of them can be installed first`,
      };
    }
    const top = Math.max(...eligible.map((n) => n.priority));
    const round = eligible.filter((n) => n.priority === top).sort(compareNodes);
    for (const n of round) {
      installed.push(n);
      installedKeys.add(n.key);
      for (const m of n.matches) installedMatches.add(m);
      remaining.splice(remaining.indexOf(n), 1);
    }
  }
  return { order: installed };
}

function compareNodes(a: OrderNode, b: OrderNode): number {
  if (a.kind !== b.kind) return a.userId.localeCompare(b.userId);
  for (let i = 0; i < Math.max(a.sort.length, b.sort.length); i++) {
    const d = (a.sort[i] ?? "").localeCompare(b.sort[i] ?? "");
    if (d !== 0) return d;
  }
  return 0;
}

/** Options in a canonical text form, for identity and sorting (keys sorted). */
export function canonicalOptions(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? true);
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify(Object.fromEntries(entries));
}
