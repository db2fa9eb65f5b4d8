// `zonectl init` against a real loopback registry (Debian's docker-registry) holding a template
// published the way the Dev Container spec distributes templates: an OCI manifest whose config
// media type is application/vnd.devcontainers and whose one layer is the template folder as tar.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { templateMediaTypes } from "../../../extension/core/templates/source";
import { startRegistry } from "../../harness/registry";
import type { TestRegistry } from "../../harness/registry";
import { buildTar } from "../../harness/testImage";
import { zonectl } from "../launch/cli";

let work: string;
let registry: TestRegistry;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "init-it-"));
  registry = await startRegistry();
});

after(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** Uploads one blob through the registry API (monolithic upload). */
async function putBlob(repository: string, data: Buffer): Promise<string> {
  const digest = sha(data);
  const start = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: "POST" });
  assert.equal(start.status, 202, await start.text());
  const location = new URL(start.headers.get("location")!, registry.url);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    body: data,
    headers: { "content-type": "application/octet-stream" },
  });
  assert.equal(put.status, 201, await put.text());
  return digest;
}

/** Publishes a template (or, with another config media type, something that is not one). */
async function publish(
  repository: string,
  tag: string,
  files: Record<string, string>,
  configMediaType: string = templateMediaTypes.config,
) {
  const layer = buildTar(Object.entries(files).map(([path, data]) => ({ path, data })));
  const config = Buffer.from("{}");
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: configMediaType, digest: await putBlob(repository, config), size: config.length },
      layers: [
        { mediaType: templateMediaTypes.layer, digest: await putBlob(repository, layer), size: layer.length },
      ],
    }),
  );
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    body: manifest,
    headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
  });
  assert.equal(res.status, 201, await res.text());
}

const template = {
  "devcontainer-template.json": JSON.stringify({
    id: "demo",
    version: "1.2.0",
    name: "Demo",
    options: { variant: { type: "string", proposals: ["bookworm", "trixie"], default: "bookworm" } },
  }),
  "README.md": "the template's own readme\n",
  ".devcontainer/devcontainer.json": '{ "image": "debian:${templateOption:variant}" }\n',
};

describe("zonectl init from a registry", () => {
  test("applies an OCI template with an option; a second run refuses to overwrite; --force does", async () => {
    await publish("templates/demo", "1", template);
    const project = join(work, "project");
    mkdirSync(project);
    writeFileSync(join(project, "README.md"), "my own readme\n");
    const ref = `${registry.host}/templates/demo:1`;
    const r = await zonectl(["init", project, "--template", ref, "--option", "variant=trixie"], {});
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Demo 1\.2\.0 applied/);
    assert.equal(
      readFileSync(join(project, ".devcontainer/devcontainer.json"), "utf8"),
      '{ "image": "debian:trixie" }\n',
    );
    assert.equal(
      readFileSync(join(project, "README.md"), "utf8"),
      "my own readme\n",
      "the template's README is not copied",
    );

    const again = await zonectl(["init", project, "--template", ref], {});
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exist .*nothing was written \(--force overwrites\)/);
    assert.match(readFileSync(join(project, ".devcontainer/devcontainer.json"), "utf8"), /trixie/);
    const forced = await zonectl(["init", project, "--template", ref, "--force"], {});
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(readFileSync(join(project, ".devcontainer/devcontainer.json"), "utf8"), /bookworm/);
  });

  test("an artifact that is not a Dev Container template, and an unknown tag, are refused and write nothing", async () => {
    await publish("images/not-a-template", "1", template, "application/vnd.oci.image.config.v1+json");
    const project = join(work, "empty");
    mkdirSync(project);
    const wrong = await zonectl(
      ["init", project, "--template", `${registry.host}/images/not-a-template:1`],
      {},
    );
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /config media type is application\/vnd\.oci\.image\.config\.v1\+json/);
    const missing = await zonectl(["init", project, "--template", `${registry.host}/templates/demo:404`], {});
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, new RegExp(`${registry.host.replace(/\./g, "\\.")}/templates/demo:404`));
    assert.ok(!existsSync(join(project, ".devcontainer")));
  });
});
