/**
 * Typed message descriptors shared by a panel's host and its webview. A descriptor names one
 * message; `.is()` narrows an incoming value to it by method name only — the host side still
 * validates payloads from the webview with the panel's zod schemas, because the webview is
 * untrusted content. No DOM and no Node here: both tsconfigs compile this file.
 */

/** The envelope of every message in both directions. */
export interface IpcMessage<M extends string = string, P = unknown> {
  method: M;
  params: P;
  /** Present on requests and their responses. */
  id?: number;
}

function hasMethod(value: unknown, method: string): boolean {
  return typeof value === "object" && value !== null && (value as { method?: unknown }).method === method;
}

/** Host → webview, no reply. */
export class IpcNotification<M extends string, P> {
  constructor(readonly method: M) {}
  is(value: unknown): value is IpcMessage<M, P> {
    return hasMethod(value, this.method);
  }
  create(params: P): IpcMessage<M, P> {
    return { method: this.method, params };
  }
}

/** Webview → host, no reply. */
export class IpcCommand<M extends string, P> {
  constructor(readonly method: M) {}
  is(value: unknown): value is IpcMessage<M, P> {
    return hasMethod(value, this.method);
  }
  create(params: P): IpcMessage<M, P> {
    return { method: this.method, params };
  }
}

/** The reply to a request: the request's id and either a result or an error message. */
export type IpcResponseParams<R> = { ok: true; result: R } | { ok: false; message: string };

/** Webview → host with a reply, matched by id; the reply's method is `<method>/response`. */
export class IpcRequest<M extends string, P, R> {
  readonly response: IpcNotification<`${M}/response`, IpcResponseParams<R>>;
  constructor(readonly method: M) {
    this.response = new IpcNotification(`${method}/response`);
  }
  is(value: unknown): value is IpcMessage<M, P> & { id: number } {
    return hasMethod(value, this.method) && typeof (value as { id?: unknown }).id === "number";
  }
  create(id: number, params: P): IpcMessage<M, P> & { id: number } {
    return { method: this.method, params, id };
  }
  reply(id: number, params: IpcResponseParams<R>): IpcMessage<`${M}/response`, IpcResponseParams<R>> {
    return { ...this.response.create(params), id };
  }
}
