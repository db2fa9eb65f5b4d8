import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "../../core/log";
import { toConnectError } from "../errors";

type AnyHandler = (...args: unknown[]) => unknown;

/**
 * Wraps every handler of a partial service implementation so that typed dev host errors reach
 * the client as the matching gRPC status (NOT_FOUND, FAILED_PRECONDITION…) with their message,
 * and every call is logged at debug. Methods left out stay UNIMPLEMENTED — Connect answers
 * those itself.
 */
export function wrapService<S extends DescService>(
  service: S,
  impl: Partial<ServiceImpl<S>>,
  log: Logger,
): Partial<ServiceImpl<S>> {
  const out: Record<string, AnyHandler> = {};
  for (const method of service.methods) {
    const fn = (impl as Record<string, AnyHandler | undefined>)[method.localName];
    if (!fn) continue;
    const name = method.name;
    if (method.methodKind === "unary" || method.methodKind === "client_streaming") {
      out[method.localName] = async (...args: unknown[]) => {
        log.debug(`rpc ${name}`);
        try {
          return await fn.apply(impl, args);
        } catch (err) {
          log.debug(`rpc ${name} failed`, err);
          throw toConnectError(err);
        }
      };
    } else {
      out[method.localName] = async function* (...args: unknown[]) {
        log.debug(`rpc ${name} (stream)`);
        try {
          yield* fn.apply(impl, args) as AsyncIterable<unknown>;
        } catch (err) {
          log.debug(`rpc ${name} failed`, err);
          throw toConnectError(err);
        }
      };
    }
  }
  return out as Partial<ServiceImpl<S>>;
}
