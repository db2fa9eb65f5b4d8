// Puts the suite's busybox test image into a dev host through the real ImportImage RPC.
import { readFile } from "node:fs/promises";
import type { Client } from "@connectrpc/connect";
import { ProtectHost } from "../../../extension/core/protect/host";
import { OciImageFormat } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type { ControlService } from "../../../extension/proto/gen/protect/control/v1/control_pb";
import { buildTestImage } from "../../harness/testImage";
import type { TestImage } from "../../harness/testImage";

const chunkSize = 256 * 1024;

/**
 * Imports the test image through a raw client of the dev host's protocol (the dev host's own
 * tests) or through the product's ProtectHost (tests that drive the product).
 */
export async function importTestImage(
  to: Client<typeof ControlService> | ProtectHost,
  dir: string,
  options: { env?: string[] } = {},
): Promise<{ image: TestImage; digest: string }> {
  const image = await buildTestImage(dir, options);
  const bytes = await readFile(image.dockerArchive);
  async function* chunks() {
    for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
  }
  if (to instanceof ProtectHost) {
    const upload = {
      name: image.archiveName,
      format: OciImageFormat.UNKNOWN,
      size: bytes.length,
      chunks: chunks(),
    };
    const imported = await to.importImage(upload, () => {});
    return { image, digest: imported.digest };
  }
  async function* requests() {
    let first = true;
    for await (const chunk of chunks()) {
      yield first ? { image: image.archiveName, chunk } : { chunk };
      first = false;
    }
    yield { lastChunk: true };
  }
  let digest = "";
  for await (const reply of to.importImage(requests())) if (reply.spec?.digest) digest = reply.spec.digest;
  if (!digest) throw new Error("ImportImage returned no digest");
  return { image, digest };
}
