import { Duplex } from "node:stream";

/**
 * One Duplex over a separate input and output stream (a ProxyCommand's stdin and stdout), so a
 * server that expects a socket can speak over them. Reading pauses the input when the reader
 * is behind; the output's back-pressure reaches the writer; ending the output ends the input
 * too, as a closed socket would.
 */
export function stdioSocket(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Duplex {
  const socket = new Duplex({
    read() {
      input.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      output.write(chunk, (err?: Error | null) => callback(err ?? null));
    },
    final(callback) {
      // stdout of a process is not ended (it is the process's own); the reader sees EOF when we exit.
      callback();
    },
  });
  input.on("data", (data: Buffer) => {
    if (!socket.push(data)) input.pause();
  });
  input.on("end", () => {
    socket.push(null);
  });
  input.on("error", (err: Error) => socket.destroy(err));
  output.on("error", (err: Error) => socket.destroy(err));
  socket.on("end", () => socket.destroy());
  return socket;
}
