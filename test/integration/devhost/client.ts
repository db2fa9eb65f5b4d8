// A plain Connect client for the dev host's unix socket, used by the dev host's own tests (the
// product's client lives in extension/core/protect; these tests must not depend on it).
import { connect } from "node:net";
import { createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import type { Client as SshClient, ClientChannel } from "ssh2";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ControlService } from "../../../extension/proto/gen/protect/control/v1/control_pb";
import { ChannelSocket } from "../../../extension/core/protect/channelSocket";

export interface UnixClient {
  client: Client<typeof ControlService>;
  close: () => void;
}

export function connectUnix(socketPath: string): UnixClient {
  const sessionManager = new Http2SessionManager("http://localhost", { idleConnectionTimeoutMs: 60_000 }, {
    createConnection: () => connect(socketPath),
  });
  const transport = createGrpcTransport({ baseUrl: "http://localhost", sessionManager });
  return { client: createClient(ControlService, transport), close: () => sessionManager.abort() };
}

/**
 * A client whose HTTP/2 connection is one SSH channel to the daemon socket
 * (direct-streamlocal@openssh.com), through the product's ChannelSocket adapter.
 */
export async function connectOverSsh(ssh: SshClient, socketPath: string): Promise<UnixClient> {
  const open = (): Promise<ClientChannel> =>
    new Promise<ClientChannel>((resolve, reject) => ssh.openssh_forwardOutStreamLocal(socketPath, (err, ch) => (err ? reject(err) : resolve(ch))));
  // Fail fast (like the product's transport does on its first call) when the server refuses.
  (await open()).close();
  const sessionManager = new Http2SessionManager("http://localhost", { idleConnectionTimeoutMs: 60_000 }, {
    createConnection: () => new ChannelSocket(open, { describe: `unix socket ${socketPath} over ssh` }),
  });
  const transport = createGrpcTransport({ baseUrl: "http://localhost", sessionManager });
  return { client: createClient(ControlService, transport), close: () => sessionManager.abort() };
}
