/**
 * One entry of `zones.hosts` as the extension understands it: an ssh destination or alias
 * (resolved through ssh config by core/ssh), a local socket (`unix:///path`, e.g. the dev
 * host), or an entry that cannot be used, with the reason shown on its tree node.
 */
import { parseDestination } from "../../core/ssh/destination";
import type { SshDestination } from "../../core/ssh/destination";
import { messageOf } from "../../core/errors";

/** A parsed `zones.hosts` entry; `id` is the entry exactly as written and never changes. */
export type HostEntry =
  | {
      readonly kind: "ssh";
      readonly id: string;
      readonly label: string;
      readonly destination: SshDestination;
    }
  | { readonly kind: "unix"; readonly id: string; readonly label: string; readonly socketPath: string }
  | { readonly kind: "invalid"; readonly id: string; readonly label: string; readonly message: string };

export function parseHostEntry(text: string): HostEntry {
  const id = text;
  if (/^unix:/i.test(text)) {
    const path = text.replace(/^unix:\/\//i, "");
    if (!/^unix:\/\//i.test(text) || !path.startsWith("/")) {
      return {
        kind: "invalid",
        id,
        label: text,
        message: `'${text}' is not a socket address: write unix:// followed by an absolute path`,
      };
    }
    return { kind: "unix", id, label: path, socketPath: path };
  }
  try {
    return { kind: "ssh", id, label: text, destination: parseDestination(text) };
  } catch (err) {
    return { kind: "invalid", id, label: text, message: messageOf(err) };
  }
}
