// Serves the four image RPCs from a real ImageStore over gRPC (HTTP/2 on a unix socket, through
// Connect's node adapter, as the dev host does) and connects the product's own client to it,
// so these tests cross the same wire a user's zonectl does.
import { mkdtempSync, rmSync } from "node:fs";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Client } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createUnixTransport } from "../../../extension/core/protect/transport";
import { ImageStore } from "../../../extension/devhost/images/imageStore";
import {
  importImage,
  listImages,
  pullImage,
  removeImage,
} from "../../../extension/devhost/images/imageService";
import { ControlService } from "../../../extension/proto/gen/protect/control/v1/control_pb";

export interface ImageServer {
  readonly client: Client<typeof ControlService>;
  readonly store: ImageStore;
  readonly storeDir: string;
  /** Stops serving and reopens the store from disk (as a dev host restart does). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startImageServer(): Promise<ImageServer> {
  const dir = mkdtempSync(join(tmpdir(), "zones-images-it-"));
  const storeDir = join(dir, "state", "images");
  const socketPath = join(dir, "daemon.socket");
  let store = await ImageStore.open(storeDir);
  let server: http2.Http2Server | undefined;
  let transport: ReturnType<typeof createUnixTransport> | undefined;
  let client: Client<typeof ControlService> | undefined;

  const start = async (): Promise<void> => {
    const handler = connectNodeAdapter({
      routes: (router) =>
        router.service(ControlService, {
          pullImage: (req, ctx) => pullImage(store, req, ctx.signal),
          importImage: (reqs, ctx) => importImage(store, reqs, ctx.signal),
          listImages: () => listImages(store, 1),
          removeImage: (req) => removeImage(store, req),
        }),
    });
    const s = http2.createServer({}, handler);
    server = s;
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(socketPath, () => resolve());
    });
    transport = createUnixTransport(socketPath);
    client = createClient(ControlService, transport.transport);
  };
  const stop = async (): Promise<void> => {
    transport?.close();
    const s = server;
    server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await start();
  return {
    get client() {
      return client!;
    },
    get store() {
      return store;
    },
    storeDir,
    async restart() {
      await stop();
      store = await ImageStore.open(storeDir);
      await start();
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
