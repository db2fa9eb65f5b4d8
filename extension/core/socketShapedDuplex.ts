import { Duplex } from "node:stream";

/**
 * A Duplex that http2 (and Node's JSStreamSocket under it) can take as its transport: they call
 * these socket methods, which a byte stream that is not a TCP socket (an SSH channel, a
 * virtio-serial port) has no use for, so each does nothing.
 */
export class SocketShapedDuplex extends Duplex {
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}
