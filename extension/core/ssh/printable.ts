/**
 * A user or host value as it may appear inside a one-line message: control characters (line
 * breaks, terminal escape sequences, C1 controls, Unicode line separators) are written as JSON
 * escapes, so a socket path or a remote's stderr can neither split a message nor drive the
 * terminal it is printed on. Everything else, including non-ASCII text, is left as it is.
 */
export function printable(value: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    switch (c) {
      case "\n":
        return "\\n";
      case "\r":
        return "\\r";
      case "\t":
        return "\\t";
      default:
        return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    }
  });
}
