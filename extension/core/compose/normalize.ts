import { posix } from "node:path";
import type { Diagnostic, JsonPathSegment } from "../devcontainer/diagnostics";
import type {
  ComposeBuild,
  ComposeDependency,
  ComposeHealthcheck,
  ComposeMount,
  ComposePort,
  ComposeService,
  ComposeVolume,
  DependencyCondition,
} from "./model";
import { parseDuration, splitShellWords } from "./words";
import { kindName } from "./yamlNodes";
import type { ComposeNode, MapNode, SourcePos } from "./yamlNodes";

/** Every service key the Compose specification defines; anything else (but `x-…`) is an error, as in Compose. */
export const serviceKeys = new Set([
  "annotations",
  "attach",
  "blkio_config",
  "build",
  "cap_add",
  "cap_drop",
  "cgroup",
  "cgroup_parent",
  "command",
  "configs",
  "container_name",
  "cpu_count",
  "cpu_percent",
  "cpu_period",
  "cpu_quota",
  "cpu_rt_period",
  "cpu_rt_runtime",
  "cpu_shares",
  "cpus",
  "cpuset",
  "credential_spec",
  "depends_on",
  "deploy",
  "develop",
  "device_cgroup_rules",
  "devices",
  "dns",
  "dns_opt",
  "dns_search",
  "domainname",
  "entrypoint",
  "env_file",
  "environment",
  "expose",
  "extends",
  "external_links",
  "extra_hosts",
  "gpus",
  "group_add",
  "healthcheck",
  "hostname",
  "image",
  "init",
  "ipc",
  "isolation",
  "label_file",
  "labels",
  "links",
  "logging",
  "mac_address",
  "mem_limit",
  "mem_reservation",
  "mem_swappiness",
  "memswap_limit",
  "models",
  "network_mode",
  "networks",
  "oom_kill_disable",
  "oom_score_adj",
  "pid",
  "pids_limit",
  "platform",
  "ports",
  "post_start",
  "pre_stop",
  "privileged",
  "profiles",
  "provider",
  "pull_policy",
  "pull_refresh_after",
  "read_only",
  "restart",
  "runtime",
  "scale",
  "secrets",
  "security_opt",
  "shm_size",
  "stdin_open",
  "stop_grace_period",
  "stop_signal",
  "storage_opt",
  "sysctls",
  "tmpfs",
  "tty",
  "ulimits",
  "use_api_socket",
  "user",
  "userns_mode",
  "uts",
  "volumes",
  "volumes_from",
  "working_dir",
]);

/** Top-level keys of a Compose file. */
export const topLevelKeys = new Set([
  "version",
  "name",
  "include",
  "services",
  "networks",
  "volumes",
  "secrets",
  "configs",
  "models",
]);

/** The environment files a service names, read by the loader before normalisation. */
export type EnvFileContents = ReadonlyMap<string, ReadonlyMap<string, string> | undefined>;

export interface NormalizeContext {
  readonly projectDirectory: string;
  /** The developer's home, for `~` in bind sources. */
  readonly home: string | undefined;
  /** The project environment (OS environment over `.env`), for `environment: [NAME]` entries. */
  readonly lookup: (name: string) => string | undefined;
  readonly envFiles: EnvFileContents;
}

export interface NormalizedProject {
  readonly name: string | undefined;
  readonly services: Map<string, ComposeService>;
  readonly volumes: Map<string, ComposeVolume>;
  readonly diagnostics: Diagnostic[];
}

/** Docker's defaults for a healthcheck's timing. */
const healthDefaults = {
  intervalMs: 30_000,
  timeoutMs: 30_000,
  retries: 3,
  startPeriodMs: 0,
  startIntervalMs: 5_000,
};

/** Checks the merged tree and turns it into the project model; every problem located. */
export function normalizeProject(root: ComposeNode, context: NormalizeContext): NormalizedProject {
  const r = new Reporter();
  const services = new Map<string, ComposeService>();
  const volumes = new Map<string, ComposeVolume>();
  if (root.kind !== "map") {
    r.error(root.pos, [], `a Compose file is a mapping with "services"; this one holds ${kindName(root)}`);
    return { name: undefined, services, volumes, diagnostics: r.diagnostics };
  }
  for (const [key, pos] of root.keyPos) {
    if (key.startsWith("x-") || topLevelKeys.has(key)) continue;
    r.error(
      pos,
      [key],
      `unknown top-level property "${key}" (Compose accepts only x-… extensions besides its own)`,
    );
  }
  if (root.entries.has("version"))
    r.warning(root.keyPos.get("version") ?? root.pos, ["version"], "`version` is obsolete and ignored");
  if (root.entries.has("include"))
    r.error(
      root.keyPos.get("include") ?? root.pos,
      ["include"],
      "`include` is not supported yet: list the included files in dockerComposeFile instead",
    );
  const name = r.optionalString(root, "name", []);

  const volumeNode = root.entries.get("volumes");
  if (volumeNode && volumeNode.kind === "map") {
    for (const [volName, spec] of volumeNode.entries) {
      const pos = volumeNode.keyPos.get(volName) ?? spec.pos;
      const external =
        spec.kind === "map" ? r.optionalBool(spec, "external", ["volumes", volName]) : undefined;
      if (spec.kind !== "map" && !(spec.kind === "scalar" && spec.value === null))
        r.error(spec.pos, ["volumes", volName], `a volume is a mapping (or empty), not ${kindName(spec)}`);
      volumes.set(volName, { name: volName, external: external ?? false, pos });
    }
  } else if (volumeNode && !isNull(volumeNode)) {
    r.error(
      volumeNode.pos,
      ["volumes"],
      `"volumes" is a mapping of volume names, not ${kindName(volumeNode)}`,
    );
  }

  const serviceNode = root.entries.get("services");
  if (!serviceNode || serviceNode.kind !== "map") {
    r.error(serviceNode?.pos ?? root.pos, ["services"], 'a Compose project needs a "services" mapping');
    return { name, services, volumes, diagnostics: r.diagnostics };
  }
  for (const [serviceName, node] of serviceNode.entries) {
    const pos = serviceNode.keyPos.get(serviceName) ?? node.pos;
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(serviceName))
      r.error(pos, ["services", serviceName], `"${serviceName}" is not a valid service name`);
    if (node.kind !== "map") {
      r.error(node.pos, ["services", serviceName], `a service is a mapping, not ${kindName(node)}`);
      continue;
    }
    const service = readService(serviceName, node, pos, context, volumes, r);
    if (service) services.set(serviceName, service);
  }
  for (const service of services.values()) {
    for (const dep of service.dependsOn) {
      if (!services.has(dep.service))
        r.error(
          dep.pos,
          ["services", service.name, "depends_on", dep.service],
          `depends on undefined service "${dep.service}"`,
        );
    }
    const mode = service.networkMode;
    if (mode?.startsWith("service:") && !services.has(mode.slice("service:".length)))
      r.error(
        service.keys.get("network_mode") ?? service.pos,
        ["services", service.name, "network_mode"],
        `network_mode refers to undefined service "${mode.slice("service:".length)}"`,
      );
  }
  const cycle = findCycle(services);
  if (cycle) {
    const first = services.get(cycle[0]!)!;
    r.error(
      first.keys.get("depends_on") ?? first.pos,
      ["services", first.name, "depends_on"],
      `dependency cycle: ${cycle.join(" → ")}`,
    );
  }
  return { name, services, volumes, diagnostics: r.diagnostics };
}

function readService(
  name: string,
  node: MapNode,
  pos: SourcePos,
  context: NormalizeContext,
  volumes: ReadonlyMap<string, ComposeVolume>,
  r: Reporter,
): ComposeService | undefined {
  const base: JsonPathSegment[] = ["services", name];
  const errorsBefore = r.errorCount;
  for (const [key, keyPos] of node.keyPos) {
    if (key.startsWith("x-") || serviceKeys.has(key)) continue;
    r.error(keyPos, [...base, key], `unknown service property "${key}"`);
  }
  if (node.entries.has("extends"))
    r.error(
      node.keyPos.get("extends") ?? pos,
      [...base, "extends"],
      "`extends` is not supported yet: merge the base service with a second file in dockerComposeFile instead",
    );
  const resolvePath = (p: string): string => {
    if (p === "~" || p.startsWith("~/")) return posix.join(context.home ?? "/", p.slice(1));
    return posix.resolve(context.projectDirectory, p);
  };

  const image = r.optionalString(node, "image", base);
  const build = readBuild(node, base, resolvePath, r);
  if (image === undefined && build === undefined)
    r.error(pos, base, `service "${name}" has neither an image nor a build context`);

  const environment = new Map<string, string>();
  const envFiles = node.entries.get("env_file");
  if (envFiles?.kind === "seq") {
    envFiles.items.forEach((item, i) => {
      const path =
        item.kind === "map" ? r.optionalString(item, "path", [...base, "env_file", i]) : scalarText(item);
      const required =
        item.kind === "map" ? (r.optionalBool(item, "required", [...base, "env_file", i]) ?? true) : true;
      if (path === undefined) {
        r.error(item.pos, [...base, "env_file", i], "an env_file entry is a path or {path, required}");
        return;
      }
      const vars = context.envFiles.get(resolvePath(path));
      if (vars === undefined) {
        if (required) r.error(item.pos, [...base, "env_file", i], `env file ${resolvePath(path)} not found`);
        return;
      }
      for (const [k, v] of vars) environment.set(k, v);
    });
  } else if (envFiles && !isNull(envFiles))
    r.error(envFiles.pos, [...base, "env_file"], "env_file is a path or a list");
  const envNode = node.entries.get("environment");
  if (envNode?.kind === "map") {
    for (const [k, v] of envNode.entries) {
      if (v.kind !== "scalar") {
        r.error(v.pos, [...base, "environment", k], `environment values are strings, not ${kindName(v)}`);
        continue;
      }
      if (v.value === null) {
        // `NAME` alone (or `NAME:` with no value) passes the variable through when it is set.
        const fromEnv = context.lookup(k);
        if (fromEnv !== undefined) environment.set(k, fromEnv);
        else environment.delete(k);
      } else environment.set(k, String(v.value));
    }
  } else if (envNode && !isNull(envNode))
    r.error(envNode.pos, [...base, "environment"], "environment is a mapping or a list of NAME=value");

  const command = readCommand(node, "command", base, r);
  const entrypoint = readCommand(node, "entrypoint", base, r);
  const user = r.optionalString(node, "user", base);
  const workingDir = r.optionalString(node, "working_dir", base);
  const mounts = readMounts(node, base, resolvePath, volumes, r);
  const { ports, expose } = readPorts(node, base, r);
  const dependsOn = readDependsOn(node, base, r);
  const healthcheck = readHealthcheck(node, base, r);
  const profiles = r.stringList(node, "profiles", base);
  const networkMode = r.optionalString(node, "network_mode", base);
  const aliases: string[] = [];
  const hostname = r.optionalString(node, "hostname", base);
  if (hostname) aliases.push(hostname);
  const containerName = r.optionalString(node, "container_name", base);
  if (containerName) aliases.push(containerName);
  const networks = node.entries.get("networks");
  if (networks?.kind === "map") {
    for (const [net, spec] of networks.entries) {
      if (spec.kind === "map") aliases.push(...r.stringList(spec, "aliases", [...base, "networks", net]));
    }
  }
  const extraHosts: Array<[string, string]> = [];
  const hostsNode = node.entries.get("extra_hosts");
  if (hostsNode?.kind === "map") {
    for (const [host, ip] of hostsNode.entries) {
      const value = scalarText(ip);
      if (value === undefined || value === "")
        r.error(
          ip.pos,
          [...base, "extra_hosts", host],
          `extra_hosts entry "${host}" needs an address (host:ip)`,
        );
      else for (const one of value.split(",")) extraHosts.push([host, one.trim().replace(/^\[|\]$/g, "")]);
    }
  }
  const tmpfsNode = node.entries.get("tmpfs");
  const tmpfs =
    tmpfsNode?.kind === "scalar" && typeof tmpfsNode.value === "string"
      ? [tmpfsNode.value]
      : r.stringList(node, "tmpfs", base);
  const service: ComposeService = {
    name,
    pos,
    keys: new Map(node.keyPos),
    image,
    build,
    command,
    entrypoint,
    environment: [...environment],
    user: user === undefined ? undefined : String(user),
    workingDir,
    mounts,
    ports,
    expose,
    dependsOn,
    healthcheck,
    profiles,
    networkMode,
    aliases: [...new Set(aliases)].filter((a) => a !== name),
    extraHosts,
    capAdd: r.stringList(node, "cap_add", base),
    capDrop: r.stringList(node, "cap_drop", base),
    privileged: r.optionalBool(node, "privileged", base) ?? false,
    readOnly: r.optionalBool(node, "read_only", base) ?? false,
    tmpfs: tmpfs.map((t) => t.split(":")[0] ?? t),
    tty: r.optionalBool(node, "tty", base) ?? false,
    stdinOpen: r.optionalBool(node, "stdin_open", base) ?? false,
  };
  return r.errorCount === errorsBefore ? service : undefined;
}

function readBuild(
  node: MapNode,
  base: JsonPathSegment[],
  resolvePath: (p: string) => string,
  r: Reporter,
): ComposeBuild | undefined {
  const build = node.entries.get("build");
  if (!build || isNull(build)) return undefined;
  const path = [...base, "build"];
  if (build.kind !== "map") {
    r.error(build.pos, path, `build is a context path or a mapping, not ${kindName(build)}`);
    return undefined;
  }
  const context = r.optionalString(build, "context", path) ?? ".";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(context) || context.startsWith("git@")) {
    r.error(
      build.entries.get("context")?.pos ?? build.pos,
      [...path, "context"],
      "a remote build context (a URL) is not supported: clone it and build from a folder",
    );
  }
  const dockerfile = r.optionalString(build, "dockerfile", path) ?? "Dockerfile";
  const dockerfileInline = r.optionalString(build, "dockerfile_inline", path);
  const args = new Map<string, string | undefined>();
  const argsNode = build.entries.get("args");
  if (argsNode?.kind === "map") {
    for (const [k, v] of argsNode.entries)
      args.set(k, v.kind === "scalar" && v.value !== null ? String(v.value) : undefined);
  } else if (argsNode && !isNull(argsNode))
    r.error(argsNode.pos, [...path, "args"], "args is a mapping or a list of NAME=value");
  const target = r.optionalString(build, "target", path);
  return {
    context: resolvePath(context),
    dockerfile,
    ...(dockerfileInline !== undefined ? { dockerfileInline } : {}),
    args,
    ...(target !== undefined ? { target } : {}),
    cacheFrom: r.stringList(build, "cache_from", path),
    pos: node.keyPos.get("build") ?? build.pos,
  };
}

function readCommand(node: MapNode, key: string, base: JsonPathSegment[], r: Reporter): string[] | undefined {
  const value = node.entries.get(key);
  if (!value || isNull(value)) return undefined;
  if (value.kind === "scalar") {
    const split = splitShellWords(String(value.value));
    if ("error" in split) {
      r.error(value.pos, [...base, key], `${key}: ${split.error}`);
      return undefined;
    }
    return split.words;
  }
  if (value.kind === "seq") return r.stringList(node, key, base);
  r.error(value.pos, [...base, key], `${key} is a string or a list of strings, not ${kindName(value)}`);
  return undefined;
}

function readMounts(
  node: MapNode,
  base: JsonPathSegment[],
  resolvePath: (p: string) => string,
  volumes: ReadonlyMap<string, ComposeVolume>,
  r: Reporter,
): ComposeMount[] {
  const list = node.entries.get("volumes");
  if (!list || isNull(list)) return [];
  if (list.kind !== "seq") {
    r.error(list.pos, [...base, "volumes"], `a service's volumes are a list, not ${kindName(list)}`);
    return [];
  }
  const mounts: ComposeMount[] = [];
  list.items.forEach((item, i) => {
    const path = [...base, "volumes", i];
    let type: string | undefined;
    let source: string | undefined;
    let target: string | undefined;
    let readOnly = false;
    if (item.kind === "scalar" && typeof item.value === "string") {
      const parts = item.value.split(":");
      if (parts.length > 3 || parts.some((p) => p === "")) {
        r.error(item.pos, path, `"${item.value}" is not SOURCE:TARGET[:MODE] or TARGET`);
        return;
      }
      if (parts.length === 1) target = parts[0];
      else {
        source = parts[0];
        target = parts[1];
        const modes = (parts[2] ?? "").split(",").filter(Boolean);
        const unknown = modes.filter(
          (m) => !["ro", "rw", "z", "Z", "cached", "delegated", "consistent", "nocopy"].includes(m),
        );
        if (unknown.length) {
          r.error(
            item.pos,
            path,
            `unknown volume mode ${unknown.join(", ")} (ro, rw, z, Z, cached, delegated, consistent, nocopy)`,
          );
          return;
        }
        readOnly = modes.includes("ro");
      }
      type = source === undefined ? "volume" : /^[./~]/.test(source) ? "bind" : "volume";
    } else if (item.kind === "map") {
      type = r.optionalString(item, "type", path) ?? "volume";
      source = r.optionalString(item, "source", path);
      target = r.optionalString(item, "target", path);
      readOnly = r.optionalBool(item, "read_only", path) ?? false;
    } else {
      r.error(item.pos, path, `a volume is "SOURCE:TARGET[:MODE]" or a mapping, not ${kindName(item)}`);
      return;
    }
    if (!target || !target.startsWith("/")) {
      r.error(item.pos, path, `the mount target "${target ?? ""}" must be an absolute path`);
      return;
    }
    if (type !== "bind" && type !== "volume" && type !== "tmpfs") {
      r.error(item.pos, path, `volume type "${type}" has no zone equivalent (bind, volume or tmpfs)`);
      return;
    }
    if (type === "bind") {
      if (!source) {
        r.error(item.pos, path, "a bind mount needs a source");
        return;
      }
      source = resolvePath(source);
    }
    if (type === "volume" && source !== undefined && !volumes.has(source)) {
      r.error(
        item.pos,
        path,
        `service refers to undefined volume "${source}": declare it under the top-level "volumes"`,
      );
      return;
    }
    mounts.push({ type, source, target: posix.normalize(target), readOnly, pos: item.pos });
  });
  return mounts;
}

function readPorts(
  node: MapNode,
  base: JsonPathSegment[],
  r: Reporter,
): { ports: ComposePort[]; expose: number[] } {
  const ports: ComposePort[] = [];
  const list = node.entries.get("ports");
  if (list?.kind === "seq") {
    list.items.forEach((item, i) => {
      const path = [...base, "ports", i];
      if (item.kind === "scalar" && item.value !== null) {
        const parsed = parsePortText(String(item.value));
        if ("error" in parsed) r.error(item.pos, path, parsed.error);
        else for (const p of parsed.ports) ports.push({ ...p, pos: item.pos });
      } else if (item.kind === "map") {
        const target = Number(scalarText(item.entries.get("target")));
        const publishedText = scalarText(item.entries.get("published"));
        const published =
          publishedText === undefined || publishedText === "" ? undefined : Number(publishedText);
        const protocol = (r.optionalString(item, "protocol", path) ?? "tcp") as ComposePort["protocol"];
        if (!validPort(target) || (published !== undefined && !validPort(published)))
          r.error(item.pos, path, "a port mapping needs target (1–65535) and an optional published port");
        else if (!["tcp", "udp", "sctp"].includes(protocol))
          r.error(item.pos, path, `unknown protocol "${protocol}"`);
        else
          ports.push({
            target,
            published,
            hostIp: r.optionalString(item, "host_ip", path),
            protocol,
            pos: item.pos,
          });
      } else
        r.error(
          item.pos,
          path,
          `a port is "[HOST:]CONTAINER[/PROTOCOL]" or a mapping, not ${kindName(item)}`,
        );
    });
  } else if (list && !isNull(list)) r.error(list.pos, [...base, "ports"], "ports is a list");
  const expose: number[] = [];
  const exposeNode = node.entries.get("expose");
  if (exposeNode?.kind === "seq") {
    exposeNode.items.forEach((item, i) => {
      const text = scalarText(item) ?? "";
      const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(text);
      if (!m) r.error(item.pos, [...base, "expose", i], `"${text}" is not a port or a port range`);
      else for (let p = Number(m[1]); p <= Number(m[2] ?? m[1]); p++) expose.push(p);
    });
  }
  return { ports, expose };
}

type ParsedPort = Omit<ComposePort, "pos">;

/** `[[HOST_IP:][HOST_PORT[-END]]:]CONTAINER_PORT[-END][/PROTOCOL]`. */
export function parsePortText(text: string): { ports: ParsedPort[] } | { error: string } {
  const bad = { error: `"${text}" is not [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]` };
  const [spec = "", protoText = "tcp", ...more] = text.split("/");
  if (more.length || !["tcp", "udp", "sctp"].includes(protoText)) return bad;
  const protocol = protoText as ComposePort["protocol"];
  let hostIp: string | undefined;
  let rest = spec;
  const bracketed = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (bracketed) {
    hostIp = bracketed[1];
    rest = bracketed[2] ?? "";
  }
  const parts = rest.split(":");
  if (!bracketed && parts.length === 3) hostIp = parts.shift();
  if (parts.length > 2) return bad;
  const containerText = parts.pop() ?? "";
  const hostText = parts.pop();
  const range = (t: string): [number, number] | undefined => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(t);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = Number(m[2] ?? m[1]);
    return validPort(a) && validPort(b) && a <= b ? [a, b] : undefined;
  };
  const container = range(containerText);
  if (!container) return bad;
  const host = hostText === undefined || hostText === "" ? undefined : range(hostText);
  if (hostText && !host) return bad;
  const count = container[1] - container[0] + 1;
  if (host && host[1] - host[0] + 1 !== count && host[0] !== host[1]) return bad;
  const ports: ParsedPort[] = [];
  for (let i = 0; i < count; i++) {
    ports.push({
      target: container[0] + i,
      published: host ? (host[0] === host[1] ? host[0] : host[0] + i) : undefined,
      hostIp,
      protocol,
    });
  }
  return { ports };
}

function validPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

function readDependsOn(node: MapNode, base: JsonPathSegment[], r: Reporter): ComposeDependency[] {
  const deps = node.entries.get("depends_on");
  if (!deps || isNull(deps)) return [];
  if (deps.kind !== "map") {
    r.error(deps.pos, [...base, "depends_on"], "depends_on is a list of services or a mapping");
    return [];
  }
  const out: ComposeDependency[] = [];
  for (const [service, spec] of deps.entries) {
    const path = [...base, "depends_on", service];
    const pos = deps.keyPos.get(service) ?? spec.pos;
    let condition: DependencyCondition = "service_started";
    let required = true;
    if (spec.kind === "map") {
      const c = r.optionalString(spec, "condition", path) ?? "service_started";
      if (c !== "service_started" && c !== "service_healthy" && c !== "service_completed_successfully") {
        r.error(
          spec.entries.get("condition")?.pos ?? pos,
          [...path, "condition"],
          `unknown condition "${c}" (service_started, service_healthy, service_completed_successfully)`,
        );
        continue;
      }
      condition = c;
      required = r.optionalBool(spec, "required", path) ?? true;
    } else if (!isNull(spec)) {
      r.error(spec.pos, path, `a dependency is a mapping with condition, not ${kindName(spec)}`);
      continue;
    }
    out.push({ service, condition, required, pos });
  }
  return out;
}

function readHealthcheck(
  node: MapNode,
  base: JsonPathSegment[],
  r: Reporter,
): ComposeHealthcheck | undefined {
  const hc = node.entries.get("healthcheck");
  if (!hc || isNull(hc)) return undefined;
  const path = [...base, "healthcheck"];
  if (hc.kind !== "map") {
    r.error(hc.pos, path, `healthcheck is a mapping, not ${kindName(hc)}`);
    return undefined;
  }
  const duration = (key: string, fallback: number): number => {
    const text = r.optionalString(hc, key, path);
    if (text === undefined) return fallback;
    const ms = parseDuration(text);
    if (ms === undefined) {
      r.error(
        hc.entries.get(key)?.pos ?? hc.pos,
        [...path, key],
        `"${text}" is not a duration like 10s, 1m30s or 500ms`,
      );
      return fallback;
    }
    return ms;
  };
  let disabled = r.optionalBool(hc, "disable", path) ?? false;
  let test: string[] | undefined;
  let display = "the image's own healthcheck";
  const testNode = hc.entries.get("test");
  if (testNode?.kind === "scalar" && testNode.value !== null) {
    test = ["/bin/sh", "-c", String(testNode.value)];
    display = String(testNode.value);
  } else if (testNode?.kind === "seq") {
    const words = r.stringList(hc, "test", path);
    const [form, ...rest] = words;
    if (form === "NONE") disabled = true;
    else if (form === "CMD" && rest.length) {
      test = rest;
      display = rest.join(" ");
    } else if (form === "CMD-SHELL" && rest.length === 1) {
      test = ["/bin/sh", "-c", rest[0]!];
      display = rest[0]!;
    } else
      r.error(
        testNode.pos,
        [...path, "test"],
        'test is ["CMD", argv…], ["CMD-SHELL", "command"], ["NONE"] or a shell command',
      );
  } else if (testNode && !isNull(testNode))
    r.error(testNode.pos, [...path, "test"], "test is a string or a list");
  const retriesText = scalarText(hc.entries.get("retries"));
  const retries = retriesText === undefined ? healthDefaults.retries : Number(retriesText);
  if (!Number.isInteger(retries) || retries < 0)
    r.error(hc.entries.get("retries")?.pos ?? hc.pos, [...path, "retries"], "retries is a whole number");
  return {
    test,
    display: disabled ? "disabled" : display,
    disabled,
    intervalMs: duration("interval", healthDefaults.intervalMs),
    timeoutMs: duration("timeout", healthDefaults.timeoutMs),
    retries: Number.isInteger(retries) && retries >= 0 ? retries : healthDefaults.retries,
    startPeriodMs: duration("start_period", healthDefaults.startPeriodMs),
    startIntervalMs: duration("start_interval", healthDefaults.startIntervalMs),
    pos: node.keyPos.get("healthcheck") ?? hc.pos,
  };
}

/** A depends_on cycle as a list of names (first repeated at the end), or undefined. */
function findCycle(services: ReadonlyMap<string, ComposeService>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    const s = state.get(name);
    if (s === "done") return undefined;
    if (s === "visiting") return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, "visiting");
    stack.push(name);
    for (const dep of services.get(name)?.dependsOn ?? []) {
      if (!services.has(dep.service)) continue;
      const found = visit(dep.service);
      if (found) return found;
    }
    stack.pop();
    state.set(name, "done");
    return undefined;
  };
  for (const name of services.keys()) {
    const found = visit(name);
    if (found) return found;
  }
  return undefined;
}

function isNull(node: ComposeNode): boolean {
  return node.kind === "scalar" && node.value === null;
}

function scalarText(node: ComposeNode | undefined): string | undefined {
  if (!node || node.kind !== "scalar" || node.value === null) return undefined;
  return String(node.value);
}

/** Collects located diagnostics while reading typed values out of nodes. */
class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  errorCount = 0;

  error(pos: SourcePos, path: readonly JsonPathSegment[], message: string): void {
    this.errorCount++;
    this.diagnostics.push(diag(pos, path, "error", message));
  }

  warning(pos: SourcePos, path: readonly JsonPathSegment[], message: string): void {
    this.diagnostics.push(diag(pos, path, "warning", message));
  }

  optionalString(map: MapNode, key: string, base: readonly JsonPathSegment[]): string | undefined {
    const node = map.entries.get(key);
    if (!node || isNull(node)) return undefined;
    if (node.kind !== "scalar") {
      this.error(node.pos, [...base, key], `${key} is a string, not ${kindName(node)}`);
      return undefined;
    }
    return String(node.value);
  }

  optionalBool(map: MapNode, key: string, base: readonly JsonPathSegment[]): boolean | undefined {
    const node = map.entries.get(key);
    if (!node || isNull(node)) return undefined;
    if (node.kind === "scalar" && typeof node.value === "boolean") return node.value;
    if (node.kind === "scalar" && (node.value === "true" || node.value === "false"))
      return node.value === "true";
    this.error(node.pos, [...base, key], `${key} is true or false, not ${kindName(node)}`);
    return undefined;
  }

  stringList(map: MapNode, key: string, base: readonly JsonPathSegment[]): string[] {
    const node = map.entries.get(key);
    if (!node || isNull(node)) return [];
    if (node.kind !== "seq") {
      this.error(node.pos, [...base, key], `${key} is a list of strings, not ${kindName(node)}`);
      return [];
    }
    const out: string[] = [];
    node.items.forEach((item: ComposeNode, i) => {
      if (item.kind === "scalar" && item.value !== null) out.push(String(item.value));
      else this.error(item.pos, [...base, key, i], `${key} holds strings, not ${kindName(item)}`);
    });
    return out;
  }
}

export function diag(
  pos: SourcePos,
  path: readonly JsonPathSegment[],
  severity: Diagnostic["severity"],
  message: string,
  code = "compose",
): Diagnostic {
  return {
    severity,
    code,
    message,
    file: pos.file,
    line: pos.line,
    column: pos.column,
    endLine: pos.endLine,
    endColumn: pos.endColumn,
    path: [...path],
  };
}
