// Puts the suite's busybox test image into a dev host through the real ImportImage RPC.
import { readFile } from "node:fs/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ImportImageReply,
  ImportImageRequestSchema,
} from "../../../extension/proto/gen/protect/control/v1/control_pb";
import { buildTestImage } from "../../harness/testImage";
import type { TestImage } from "../../harness/testImage";

/** Whatever offers ImportImage: a raw client of the dev host's protocol, or a ProtectHost. */
interface ImageImporter {
  importImage(
    requests: AsyncIterable<MessageInitShape<typeof ImportImageRequestSchema>>,
  ): AsyncIterable<ImportImageReply>;
}

export async function importTestImage(
  client: ImageImporter,
  dir: string,
  options: { env?: string[] } = {},
): Promise<{ image: TestImage; digest: string }> {
  const image = await buildTestImage(dir, options);
  const bytes = await readFile(image.dockerArchive);
  async function* upload() {
    const size = 256 * 1024;
    for (let i = 0; i < bytes.length; i += size) {
      const last = i + size >= bytes.length;
      yield i === 0
        ? { image: image.archiveName, chunk: bytes.subarray(i, i + size), lastChunk: last }
        : { chunk: bytes.subarray(i, i + size), lastChunk: last };
    }
  }
  let digest = "";
  for await (const reply of client.importImage(upload())) if (reply.spec?.digest) digest = reply.spec.digest;
  if (!digest) throw new Error("ImportImage returned no digest");
  return { image, digest };
}
