import { ReasonedError } from "../errors";

/**
 * Why an image operation failed. The RPC layer maps each reason onto one gRPC code
 * (imageService.ts), so callers and clients branch on the reason, never on message text.
 */
export type ImageErrorReason =
  /** The image reference does not parse (bad characters, uppercase repository, bad digest). */
  | "invalidReference"
  /** An uploaded archive is neither an OCI image layout nor a `docker save` tarball, or is malformed. */
  | "invalidArchive"
  /** A manifest, index or config is malformed, or a layer is not a readable tar stream. */
  | "invalidImage"
  /** The registry or the archive has no such repository, tag, manifest or blob. */
  | "notFound"
  /** The registry wants credentials we do not have, or rejected the ones we sent. */
  | "unauthorized"
  /** The registry knows who we are and refuses the request. */
  | "denied"
  /** The registry could not be reached (connection refused, DNS, TLS). */
  | "unreachable"
  /** The registry answered with a server error or an answer we cannot use. */
  | "registryError"
  /** Content did not hash to the digest that named it. */
  | "digestMismatch"
  /** A layer entry or link would land outside the root filesystem. */
  | "unsafePath"
  /** A valid image we cannot handle here (schema 1 manifest, zstd layers on this Node). */
  | "unsupported"
  /** A manifest list / index without an entry for this platform. */
  | "noMatchingPlatform"
  /** The image cannot be removed: a workload runs from it. */
  | "inUse"
  /** Unpacking would pass the dev host's limits (uncompressed bytes, entries, free disk space). */
  | "tooLarge";

/** A failed pull, import, extraction or store operation, with its reason. */
export class ImageError extends ReasonedError<ImageErrorReason> {
  override readonly name = "ImageError";
}
