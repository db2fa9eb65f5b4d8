import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseDotenv } from "../../../extension/core/compose/dotenv";
import { interpolate } from "../../../extension/core/compose/interpolate";
import { loadComposeProject } from "../../../extension/core/compose/load";
import type { LoadComposeResult } from "../../../extension/core/compose/load";
import { parsePortText } from "../../../extension/core/compose/normalize";
import { selectServices } from "../../../extension/core/compose/select";
import { parseDuration, splitShellWords } from "../../../extension/core/compose/words";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

test("interpolation: every form Compose knows", () => {
  const vars = env({ SET: "x", EMPTY: "" });
  const value = (t: string) => interpolate(t, vars).value;
  assert.equal(value("a $SET b ${SET}"), "a x b x");
  assert.equal(value("$$SET costs $$5"), "$SET costs $5");
  assert.equal(value("${EMPTY:-d} ${EMPTY-d} ${NOPE-d} ${NOPE:-d}"), "d  d d");
  assert.equal(value("${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${NOPE+alt}"), "alt||alt|");
  assert.equal(value("${NOPE:-${SET}-inner}"), "x-inner");
  assert.deepEqual(interpolate("${NOPE}/$ALSO", vars).unset, ["NOPE", "ALSO"]);
  assert.match(
    interpolate("${NOPE:?must be set}", vars).error ?? "",
    /required variable NOPE is missing: must be set/,
  );
  assert.match(interpolate("${EMPTY:?}", vars).error ?? "", /EMPTY is empty/);
  assert.equal(interpolate("${EMPTY?}", vars).error, undefined);
  assert.match(interpolate("echo $1", vars).error ?? "", /invalid interpolation/);
  assert.match(interpolate("${unclosed", vars).error ?? "", /no closing/);
  assert.match(interpolate("${A B}", vars).error ?? "", /invalid interpolation/);
});

test("dotenv: quotes, escapes, comments, export, bare names, located errors", () => {
  const text = [
    "# comment",
    "export A=plain value # trailing comment",
    "B='single $A kept'",
    'C="double\\n$A \\$literal"',
    'D="two',
    'lines"',
    "E=${A}-more",
    "FROM_ENV",
    "UNSET_BARE",
    "",
  ].join("\n");
  const r = parseDotenv(text, "/p/.env", env({ FROM_ENV: "os" }));
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(Object.fromEntries(r.vars), {
    A: "plain value",
    B: "single $A kept",
    C: "double\nplain value $literal",
    D: "two\nlines",
    E: "plain value-more",
    FROM_ENV: "os",
  });
  const bad = parseDotenv("OK=1\n1BAD=2\nQ='never closed\n", "/p/.env", env({}));
  assert.deepEqual(
    bad.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`),
    ['2:1 "1BAD" is not a valid variable name', "3:3 the single quote opened here is never closed"],
  );
});

test("shell words and durations", () => {
  assert.deepEqual(splitShellWords(`sleep infinity`), { words: ["sleep", "infinity"] });
  assert.deepEqual(splitShellWords(`sh -c 'echo "hi there"' "a\\"b" c\\ d`), {
    words: ["sh", "-c", 'echo "hi there"', 'a"b', "c d"],
  });
  assert.ok("error" in splitShellWords(`echo 'open`));
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("10"), undefined);
  assert.equal(parseDuration("abc"), undefined);
});

test("ports: short syntax with ranges, host ip and protocol", () => {
  assert.deepEqual(parsePortText("5432"), {
    ports: [{ target: 5432, published: undefined, hostIp: undefined, protocol: "tcp" }],
  });
  assert.deepEqual(parsePortText("127.0.0.1:8080:80/udp"), {
    ports: [{ target: 80, published: 8080, hostIp: "127.0.0.1", protocol: "udp" }],
  });
  assert.deepEqual(
    (
      parsePortText("9000-9001:3000-3001") as { ports: Array<{ target: number; published?: number }> }
    ).ports.map((p) => [p.published, p.target]),
    [
      [9000, 3000],
      [9001, 3001],
    ],
  );
  assert.ok("error" in parsePortText("abc"));
  assert.ok("error" in parsePortText("70000"));
});

/** Loads files from an in-memory folder. */
function load(files: Record<string, string>, order: string[], osEnv: Record<string, string> = {}) {
  return loadComposeProject({
    files: order.map((f) => `/proj/.devcontainer/${f}`),
    env: osEnv,
    localFolder: "/proj",
    home: "/home/dev",
    readText: async (p) => files[p.replace("/proj/.devcontainer/", "")],
  });
}

function errors(r: LoadComposeResult): string[] {
  return r.diagnostics
    .filter((d) => d.severity === "error")
    .map((d) => `${d.file.slice(d.file.lastIndexOf("/") + 1)}:${d.line}:${d.column}: ${d.message}`);
}

test("several files merge in order with Compose's rules", async () => {
  const base = `
services:
  app:
    image: base:1
    command: ["sleep", "1"]
    environment: [A=1, B=2]
    volumes: ["data:/data", "../src:/src:ro"]
    ports: ["3000"]
    cap_add: [SYS_PTRACE]
    depends_on: [db]
  db:
    image: db:1
    ports: ["5432"]
volumes:
  data:
`;
  const override = `
services:
  app:
    image: base:2
    command: sleep infinity
    environment:
      B: two
      C: "3"
    volumes: ["other:/data"]
    ports: ["4000"]
    cap_add: [SYS_PTRACE, NET_ADMIN]
  db:
    ports: !reset []
    image: !override db:2
volumes:
  other: {}
`;
  const r = await load({ "a.yml": base, "b.yml": override }, ["a.yml", "b.yml"]);
  assert.deepEqual(errors(r), []);
  const app = r.project!.services.get("app")!;
  assert.equal(app.image, "base:2");
  assert.deepEqual(app.command, ["sleep", "infinity"]);
  assert.deepEqual(Object.fromEntries(app.environment), { A: "1", B: "two", C: "3" });
  assert.deepEqual(
    app.mounts.map((m) => [m.type, m.source, m.target, m.readOnly]),
    [
      ["volume", "other", "/data", false],
      ["bind", "/proj/src", "/src", true],
    ],
  );
  assert.deepEqual(
    app.ports.map((p) => p.target),
    [3000, 4000],
  );
  assert.deepEqual(app.capAdd, ["SYS_PTRACE", "NET_ADMIN"]);
  assert.deepEqual(
    app.dependsOn.map((d) => [d.service, d.condition]),
    [["db", "service_started"]],
  );
  const db = r.project!.services.get("db")!;
  assert.deepEqual(db.ports, []);
  assert.equal(db.image, "db:2");
  assert.equal(r.project!.name, "proj_devcontainer");
});

test(".env and the OS environment feed interpolation; the OS wins; env_file fills the service", async () => {
  const r = await load(
    {
      ".env": "TAG=from-dotenv\nPORT=5432\nCOMPOSE_PROJECT_NAME=My.Project\n",
      "c.yml": `
services:
  db:
    image: "postgres:\${TAG}"
    env_file: [db.env]
    environment:
      PORT: \${PORT}
      MISSING: \${NOT_SET_ANYWHERE}
      DOLLAR: "a$$b"
`,
      "db.env": "USER=pg\nPORT=1\n",
    },
    ["c.yml"],
    { TAG: "from-os" },
  );
  assert.deepEqual(errors(r), []);
  const db = r.project!.services.get("db")!;
  assert.equal(db.image, "postgres:from-os");
  assert.deepEqual(Object.fromEntries(db.environment), {
    USER: "pg",
    PORT: "5432",
    MISSING: "",
    DOLLAR: "a$b",
  });
  assert.equal(r.project!.name, "myproject");
  const warning = r.diagnostics.find((d) => d.code === "unsetVariable");
  assert.equal(`${warning?.line}:${warning?.column}`, "8:16");
});

test("bad input: each problem is an error at file:line:col", async () => {
  const cases: Array<[string, string]> = [
    ["services:\n  app:\n    image: [x\n", "c.yml:4:1: Flow sequence"],
    ["services:\n  app:\n    image: x\n    colour: red\n", 'c.yml:4:5: unknown service property "colour"'],
    [
      "services:\n  app:\n    image: x\n    volumes: [nope:/d]\n",
      'c.yml:4:15: service refers to undefined volume "nope"',
    ],
    [
      "services:\n  app:\n    image: x\n    depends_on: [db]\n",
      'c.yml:4:18: depends on undefined service "db"',
    ],
    [
      "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
      "c.yml:4:5: dependency cycle: a → b → a",
    ],
    [
      "services:\n  app:\n    image: ${NEED:?set NEED}\n",
      "c.yml:3:12: required variable NEED is missing: set NEED",
    ],
    [
      "services:\n  app:\n    command: sleep 1\n",
      'c.yml:2:3: service "app" has neither an image nor a build context',
    ],
    [
      "services:\n  app:\n    image: x\n    healthcheck:\n      interval: soon\n",
      'c.yml:5:17: "soon" is not a duration like 10s, 1m30s or 500ms',
    ],
    ["services:\n  app:\n    image: x\n    ports: ['99999']\n", 'c.yml:4:13: "99999" is not'],
    [
      "services:\n  app:\n    image: x\n    volumes: ['x:y:z:w']\n",
      'c.yml:4:15: "x:y:z:w" is not SOURCE:TARGET',
    ],
  ];
  for (const [text, expected] of cases) {
    const r = await load({ "c.yml": text }, ["c.yml"]);
    assert.equal(r.project, undefined, text);
    assert.ok(
      errors(r).some((e) => e.startsWith(expected)),
      `${JSON.stringify(text)}: expected ${expected}, got ${errors(r).join(" | ")}`,
    );
  }
  const missing = await load({}, ["gone.yml"]);
  assert.deepEqual(missing.missingFiles, ["/proj/.devcontainer/gone.yml"]);
});

test("healthchecks: CMD, CMD-SHELL, string, NONE, defaults", async () => {
  const r = await load(
    {
      "c.yml": `
services:
  a: {image: x, healthcheck: {test: ["CMD", "pg_isready", "-U", "pg"], interval: 2s, retries: 7}}
  b: {image: x, healthcheck: {test: ["CMD-SHELL", "nc -z localhost 80"]}}
  c: {image: x, healthcheck: {test: "curl -f http://localhost"}}
  d: {image: x, healthcheck: {test: ["NONE"]}}
`,
    },
    ["c.yml"],
  );
  assert.deepEqual(errors(r), []);
  const hc = (n: string) => r.project!.services.get(n)!.healthcheck!;
  assert.deepEqual(hc("a").test, ["pg_isready", "-U", "pg"]);
  assert.equal(hc("a").intervalMs, 2000);
  assert.equal(hc("a").retries, 7);
  assert.equal(hc("a").timeoutMs, 30_000);
  assert.deepEqual(hc("b").test, ["/bin/sh", "-c", "nc -z localhost 80"]);
  assert.deepEqual(hc("c").test, ["/bin/sh", "-c", "curl -f http://localhost"]);
  assert.equal(hc("d").disabled, true);
});

test("service selection: service ∪ runServices ∪ depends_on closure, dependencies first; profiles", async () => {
  const r = await load(
    {
      "c.yml": `
services:
  app: {image: x, depends_on: {api: {condition: service_healthy}}}
  api: {image: x, depends_on: [db, cache]}
  db: {image: x}
  cache: {image: x}
  tools: {image: x, profiles: [debug]}
  other: {image: x}
`,
    },
    ["c.yml"],
  );
  assert.deepEqual(errors(r), []);
  const p = r.project!;
  const names = (s: ReturnType<typeof selectServices>) => s.ordered.map((x) => x.name);
  assert.deepEqual(names(selectServices(p, "app", [])), ["db", "cache", "api", "app"]);
  assert.deepEqual(selectServices(p, "app", []).pulledIn, ["api", "db", "cache"]);
  assert.deepEqual(names(selectServices(p, "app", undefined)), ["db", "cache", "api", "app", "other"]);
  assert.deepEqual(names(selectServices(p, "app", ["tools"])), ["db", "cache", "api", "app", "tools"]);
  assert.deepEqual(selectServices(p, "nope", []).unknown, ["nope"]);
  const withProfile = { ...p, activeProfiles: ["debug"] };
  assert.ok(names(selectServices(withProfile, "app", undefined)).includes("tools"));
});

test("anchors, merge keys and x- fields are expanded", async () => {
  const r = await load(
    {
      "c.yml": `
x-common: &common
  image: shared:1
  environment: {SHARED: "yes"}
services:
  a:
    <<: *common
    environment: {OWN: "1"}
  b: *common
`,
    },
    ["c.yml"],
  );
  assert.deepEqual(errors(r), []);
  assert.equal(r.project!.services.get("a")!.image, "shared:1");
  assert.deepEqual(Object.fromEntries(r.project!.services.get("a")!.environment), { OWN: "1" });
  assert.deepEqual(Object.fromEntries(r.project!.services.get("b")!.environment), { SHARED: "yes" });
});

test("every Compose project of the corpus loads, or fails the way Compose would", async () => {
  // Whole project folders (Dockerfiles, compose files, local features), checked in as fixtures.
  const root = join(import.meta.dirname, "../../fixtures/devcontainer-corpus/projects");
  assert.ok(existsSync(root), `${root} is missing`);
  let loaded = 0;
  const failures: string[] = [];
  for (const name of (await readdir(root)).sort()) {
    const folder = join(root, name);
    for (const candidate of [".devcontainer/docker-compose.yml"]) {
      const file = join(folder, candidate);
      if (!existsSync(file)) continue;
      const r = await loadComposeProject({
        files: [file],
        env: {},
        localFolder: folder,
        readText: async (p) => (existsSync(p) ? readFile(p, "utf8") : undefined),
      });
      if (r.project) loaded++;
      else failures.push(`${name}: ${errors(r).join("; ")}`);
    }
  }
  assert.ok(loaded >= 27, `${loaded} loaded; failures: ${failures.join("\n")}`);
  // The template placeholder service has neither image nor build: Compose itself rejects it.
  assert.deepEqual(
    failures.map((f) => f.slice(0, f.indexOf(":"))),
    ["templates__src__docker-existing-docker-compose"],
  );
});
