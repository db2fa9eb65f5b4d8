// The options every ProtectHost call takes, apart from the facade so that the session modules
// (exec, dial, consoles) and the launch interface can name them without importing the facade.

/** Options of one call to the daemon. */
export interface CallOpts {
  readonly signal?: AbortSignal | undefined;
  /** Overrides the call's deadline (unary calls have one by default, streams none). */
  readonly timeoutMs?: number | undefined;
}

/** Options of a streaming call. */
export interface StreamOpts extends CallOpts {
  /** What the call is about, for its error messages ("to 127.0.0.1:80 in zone …"). */
  readonly about?: string;
}

/** How `dialer()` reaches a zone port: through the daemon (DialNetworkSocket) or an SSH direct-tcpip channel to the zone's IP. */
export type ForwardRoute = "dial" | "ssh";
