// A plain Connect client for the dev host's unix socket, used by the dev host's own tests (the
// product's client lives in extension/core/protect; these tests must not depend on its host
// facade). Like the product's transport, it reads every response through guardClientStream: the
// dev host ends a bidi call right after its last reply, as protect-daemon does, whether or not
// the client has half-closed, and Node's own response reading reports such complete responses
// as "Premature close". The dev host's tests thus prove the client against a strict server.
import { connect } from "node:net";
import type { ClientHttp2Stream, ClientSessionRequestOptions, OutgoingHttpHeaders } from "node:http2";
import type { Duplex } from "node:stream";
import { createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import type { Client as SshClient, ClientChannel } from "ssh2";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ControlService } from "../../../extension/proto/gen/protect/control/v1/control_pb";
import { ChannelSocket } from "../../../extension/core/protect/channelSocket";
import { guardClientStream } from "../../../extension/core/protect/clientStream";

class GuardedSessionManager extends Http2SessionManager {
  override async request(
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    options: Omit<ClientSessionRequestOptions, "signal">,
  ): Promise<ClientHttp2Stream> {
    const stream = await super.request(method, path, headers, options);
    guardClientStream(stream);
    return stream;
  }
}

function sessionManager(createConnection: () => Duplex): Http2SessionManager {
  return new GuardedSessionManager(
    "http://localhost",
    { idleConnectionTimeoutMs: 60_000 },
    { createConnection },
  );
}

export interface UnixClient {
  client: Client<typeof ControlService>;
  close: () => void;
}

export function connectUnix(socketPath: string): UnixClient {
  const manager = sessionManager(() => connect(socketPath));
  const transport = createGrpcTransport({ baseUrl: "http://localhost", sessionManager: manager });
  return { client: createClient(ControlService, transport), close: () => manager.abort() };
}

/**
 * A client whose HTTP/2 connection is one SSH channel to the daemon socket
 * (direct-streamlocal@openssh.com), through the product's ChannelSocket adapter.
 */
export async function connectOverSsh(ssh: SshClient, socketPath: string): Promise<UnixClient> {
  const open = (): Promise<ClientChannel> =>
    new Promise<ClientChannel>((resolve, reject) =>
      ssh.openssh_forwardOutStreamLocal(socketPath, (err, ch) => (err ? reject(err) : resolve(ch))),
    );
  // Fail fast (like the product's transport does on its first call) when the server refuses.
  (await open()).close();
  const manager = sessionManager(
    () => new ChannelSocket(open, { describe: `unix socket ${socketPath} over ssh` }),
  );
  const transport = createGrpcTransport({ baseUrl: "http://localhost", sessionManager: manager });
  return { client: createClient(ControlService, transport), close: () => manager.abort() };
}
