/**
 * The guest agent of a dev host VM zone: `node vmAgent.js /dev/vportNpM`. Runs inside the VM as
 * root (started and restarted by the guest's init) and serves GuestAgent over HTTP/2 on the
 * virtio-serial port whose other end is the dev host. The port is a character device, not a
 * socket, so it is read and written through file streams joined into one Duplex.
 *
 * When the host is not connected, reads of the port return end-of-file at once; the agent then
 * waits a moment and opens it again, so a host that reconnects gets a fresh HTTP/2 session.
 */
import { closeSync, createReadStream, createWriteStream, openSync } from "node:fs";
import * as http2 from "node:http2";
import { SocketShapedDuplex } from "../../../core/socketShapedDuplex";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { GuestAgent } from "../../../proto/gen/styrolite/guest/v1/agent_pb";
import { devHostVersion } from "../../version";
import { agentServingMarker } from "../guestScripts";
import { guestAgentService } from "./agentService";

/** A file-backed byte stream with the socket methods http2 calls on its transport. */
class PortSocket extends SocketShapedDuplex {
  readonly #fd: number;
  readonly #out;

  constructor(path: string) {
    super({ allowHalfOpen: false });
    this.#fd = openSync(path, "r+");
    const input = createReadStream("", { fd: this.#fd, autoClose: false, highWaterMark: 256 * 1024 });
    this.#out = createWriteStream("", { fd: this.#fd, autoClose: false });
    input.on("data", (d) => {
      if (!this.push(d)) input.pause();
    });
    this.#resume = () => input.resume();
    input.on("end", () => this.push(null));
    input.on("error", (err) => this.destroy(err));
    this.#out.on("error", (err) => this.destroy(err));
  }

  readonly #resume: () => void;

  override _read(): void {
    this.#resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#out.write(chunk, callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
    callback(err);
  }
}

function serve(port: string): void {
  const handler = connectNodeAdapter({
    routes: (router) => router.service(GuestAgent, guestAgentService(devHostVersion)),
    acceptCompression: [],
  });
  const server = http2.createServer({ settings: { initialWindowSize: 1024 * 1024 } }, handler);
  const session = (): void => {
    let socket: PortSocket;
    try {
      socket = new PortSocket(port);
    } catch (err) {
      process.stderr.write(`styrolite agent: cannot open ${port}: ${(err as Error).message}\n`);
      process.exit(1);
    }
    let again = false;
    const reopen = (): void => {
      if (again) return;
      again = true;
      socket.destroy();
      setTimeout(session, 200);
    };
    socket.on("close", reopen);
    socket.on("end", reopen);
    socket.on("error", reopen);
    server.emit("connection", socket);
  };
  session();
}

const port = process.argv[2];
if (!port) {
  process.stderr.write("usage: vmAgent.js /dev/vportNpM\n");
  process.exit(2);
}
process.on("uncaughtException", (err) => {
  process.stderr.write(`styrolite agent: ${err.stack ?? err.message}\n`);
});
serve(port);
process.stderr.write(`${agentServingMarker} ${port} (${devHostVersion})\n`);
