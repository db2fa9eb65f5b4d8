/**
 * The image RPCs of protect.control.v1.ControlService, as plain functions over an ImageStore, so
 * the dev host's router wires each with one line, e.g.
 *
 *   pullImage: (req, ctx) => pullImage(store, req, ctx.signal),
 *   importImage: (reqs, ctx) => importImage(store, reqs, ctx.signal),
 *   listImages: () => listImages(store),
 *   removeImage: (req) => removeImage(store, req),
 *
 * Failures are thrown as ConnectError with a code that says what went wrong (see `toConnectError`)
 * and a one-line message that includes what the registry said.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { isAbortError } from "../../core/abort";
import { messageOf } from "../../core/errors";
import {
  OciImageInfoSchema,
  type OciImageMetadata,
  OciImageMetadataSchema,
  type OciImageProgress,
  type OciRegistryAuthentication,
} from "../../proto/gen/protect/control/v1/common_pb";
import {
  ImportImageReplySchema,
  ListImagesReplySchema,
  PullImageReplySchema,
  RemoveImageReplySchema,
  type ImportImageReply,
  type ImportImageRequest,
  type ListImagesReply,
  type PullImageReply,
  type PullImageRequest,
  type RemoveImageReply,
  type RemoveImageRequest,
} from "../../proto/gen/protect/control/v1/control_pb";
import { ImageError, type ImageErrorReason } from "../../core/registry/imageError";
import type { ImageStore, StoredImage } from "./imageStore";
import type { ProgressSink } from "./progress";
import { parseReference } from "../../core/registry/reference";
import type { RegistryAuth } from "../../core/registry/registryClient";

/**
 * PullImage: streams progress replies, then one reply with `spec` (and `metadata` when
 * `want_metadata`). Any requested format is served as a directory tree; `spec.format` says so.
 */
export async function* pullImage(
  store: ImageStore,
  req: PullImageRequest,
  signal: AbortSignal,
): AsyncGenerator<PullImageReply> {
  try {
    if (req.image.trim() === "")
      throw new ImageError("invalidReference", "PullImage needs an image reference");
    const auth = registryAuthFromProto(req.auth);
    const image = yield* withProgress(
      (onProgress, opSignal) =>
        store.pull(req.image, {
          ...(auth ? { auth } : {}),
          overwriteCache: req.overwriteCache,
          update: req.update,
          onProgress,
          signal: opSignal,
        }),
      (progress) => create(PullImageReplySchema, { progress }),
      signal,
    );
    yield create(PullImageReplySchema, {
      spec: { digest: image.digest, format: image.format },
      ...(req.wantMetadata ? { metadata: metadataOf(image) } : {}),
    });
  } catch (err) {
    throw signal.aborted
      ? new ConnectError(`pull cancelled: ${messageOf(err)}`, Code.Canceled)
      : toConnectError(err);
  }
}

/**
 * ImportImage: the first request names the image (`image`, optional `digest`) and may carry the
 * first chunk; chunks follow until one has `last_chunk`. Replies: `accepted`, progress, then
 * `spec` (+ `metadata` when the first request set `want_metadata`). An upload that ends without
 * `last_chunk` is refused as truncated.
 */
export async function* importImage(
  store: ImageStore,
  requests: AsyncIterable<ImportImageRequest>,
  signal: AbortSignal,
): AsyncGenerator<ImportImageReply> {
  try {
    const iterator = requests[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done) throw new ImageError("invalidArchive", "ImportImage received no requests");
    const head = first.value;
    if (head.image !== "") parseReference(head.image); // refuse a bad name before the upload starts
    yield create(ImportImageReplySchema, { accepted: true });

    async function* chunks(): AsyncGenerator<Uint8Array> {
      let req = head;
      for (;;) {
        if (req.chunk.length > 0) yield req.chunk;
        if (req.lastChunk) return;
        const next = await iterator.next();
        if (next.done)
          throw new ImageError("invalidArchive", "the upload ended without a request marked last_chunk");
        req = next.value;
      }
    }
    const image = yield* withProgress(
      (onProgress, opSignal) =>
        store.import(chunks(), {
          ...(head.image !== "" ? { name: head.image } : {}),
          ...(head.digest !== "" ? { digest: head.digest } : {}),
          overwriteCache: head.overwriteCache,
          onProgress,
          signal: opSignal,
        }),
      (progress) => create(ImportImageReplySchema, { progress }),
      signal,
    );
    yield create(ImportImageReplySchema, {
      spec: { digest: image.digest, format: image.format },
      ...(head.wantMetadata ? { metadata: metadataOf(image) } : {}),
    });
  } catch (err) {
    throw signal.aborted
      ? new ConnectError(`import cancelled: ${messageOf(err)}`, Code.Canceled)
      : toConnectError(err);
  }
}

/** ListImages: every image with names and metadata, in batches (at least one reply, maybe empty). */
export async function* listImages(store: ImageStore, batchSize = 32): AsyncGenerator<ListImagesReply> {
  const images = store.list();
  if (images.length === 0) {
    yield create(ListImagesReplySchema, { images: [] });
    return;
  }
  for (let i = 0; i < images.length; i += batchSize) {
    yield create(ListImagesReplySchema, {
      images: images.slice(i, i + batchSize).map((img) =>
        create(OciImageInfoSchema, {
          digest: img.digest,
          format: img.format,
          names: img.names,
          metadata: metadataOf(img),
        }),
      ),
    });
  }
}

/**
 * RemoveImage: removes by digest (a name is accepted too, for the CLI's sake). `removed` is false
 * when there was no such image; an empty digest is InvalidArgument; an image a workload runs
 * from is FailedPrecondition (see ImageStore.setRemovalGuard).
 */
export function removeImage(store: ImageStore, req: RemoveImageRequest): RemoveImageReply {
  if (req.digest.trim() === "") throw new ConnectError("RemoveImage needs a digest", Code.InvalidArgument);
  const image = store.get(req.digest) ?? store.findByName(req.digest);
  try {
    return create(RemoveImageReplySchema, { removed: image ? store.remove(image.digest) : false });
  } catch (err) {
    throw toConnectError(err);
  }
}

/** The store's credentials from the wire's OciRegistryAuthentication (undefined: anonymous). */
export function registryAuthFromProto(auth: OciRegistryAuthentication | undefined): RegistryAuth | undefined {
  const method = auth?.authenticationMethod;
  switch (method?.case) {
    case "usernamePassword":
      return { kind: "usernamePassword", username: method.value.username, password: method.value.password };
    case "rawBasicAuth":
      return { kind: "rawBasic", value: method.value };
    case "identityToken":
      return { kind: "identityToken", token: method.value };
    case "registryToken":
      return { kind: "registryToken", token: method.value };
    default:
      return undefined;
  }
}

const codeFor: Record<ImageErrorReason, Code> = {
  invalidReference: Code.InvalidArgument,
  invalidArchive: Code.InvalidArgument,
  invalidImage: Code.InvalidArgument,
  unsafePath: Code.InvalidArgument,
  notFound: Code.NotFound,
  noMatchingPlatform: Code.NotFound,
  unauthorized: Code.Unauthenticated,
  denied: Code.PermissionDenied,
  unreachable: Code.Unavailable,
  registryError: Code.Unavailable,
  digestMismatch: Code.DataLoss,
  unsupported: Code.Unimplemented,
  inUse: Code.FailedPrecondition,
  tooLarge: Code.ResourceExhausted,
};

/**
 * Maps a failure onto gRPC: ImageError reasons to their codes (bad reference or archive →
 * InvalidArgument, unknown image/manifest → NotFound, registry auth → Unauthenticated /
 * PermissionDenied, registry down → Unavailable, corrupt content → DataLoss, unsupported →
 * Unimplemented, in use → FailedPrecondition, too large → ResourceExhausted), cancellation to Canceled, anything else to Internal.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof ImageError)
    return new ConnectError(err.message, codeFor[err.reason], undefined, undefined, err);
  if (isAbortError(err)) return new ConnectError(messageOf(err), Code.Canceled, undefined, undefined, err);
  return new ConnectError(messageOf(err), Code.Internal, undefined, undefined, err);
}

function metadataOf(image: StoredImage): OciImageMetadata {
  return create(OciImageMetadataSchema, { manifest: image.manifestJson, config: image.configJson });
}

/**
 * Runs a store operation and yields its progress snapshots as replies while it runs, then
 * returns its result. If the consumer stops early (client gone), the operation is cancelled.
 */
async function* withProgress<T, R>(
  run: (onProgress: ProgressSink, signal: AbortSignal) => Promise<T>,
  reply: (progress: OciImageProgress) => R,
  signal: AbortSignal,
): AsyncGenerator<R, T> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  const queue: OciImageProgress[] = [];
  let wake: (() => void) | undefined;
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  const operation = run((p) => {
    queue.push(p);
    wake?.();
  }, controller.signal).then(
    (value) => {
      outcome = { ok: true, value };
    },
    (error: unknown) => {
      outcome = { ok: false, error };
    },
  );
  try {
    for (;;) {
      while (queue.length > 0) yield reply(queue.shift()!);
      if (outcome !== undefined) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        void operation.then(resolve); // settles even when the last event was not progress
      });
      wake = undefined;
    }
    while (queue.length > 0) yield reply(queue.shift()!);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (outcome === undefined) {
      controller.abort(new Error("the client went away"));
      await operation;
    }
  }
}
