/**
 * One API service on its own loopback listener: routing, request counting, fault injection, error
 * formatting and the socket bookkeeping `stop()` needs.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { randomUUID } from "node:crypto";
import type { Counters } from "../counters";
import type { FaultRegistry } from "../faults";
import { readJson, type JsonBodyRules } from "./body";
import { HttpError } from "./errors";
import { replyBody, type Headers, type Reply } from "./reply";
import type { RequestContext, Router, ServiceName } from "./router";

export interface ServiceConfig {
  name: ServiceName;
  host: string;
  router: Router;
  jsonRules: JsonBodyRules;
  /** Turns an error into the service's own error body. */
  formatError(err: HttpError): Reply;
  /**
   * The answer to a known path with a method no route has: 405 (default), or 404 where the API's
   * router matches on the method too, so that nothing matches (Nova).
   */
  wrongMethodStatus?: 404 | 405;
  /** Rewrites the request path before routing (e.g. drops Nova's project-id segment). */
  normalizePath?(path: string): string;
  /**
   * Runs before the handler of a matched route (auth, microversions). Headers it returns are added
   * to the reply, error replies included.
   */
  before?(ctx: RequestContext, template: string): Promise<Headers | void> | Headers | void;
  /** Whether to send an x-openstack-request-id header. */
  requestIds: boolean;
  faults: FaultRegistry;
  counters: Counters;
  log(line: string): void;
  /** Serve HTTPS with this key and certificate. */
  tls?: { key: string; cert: string };
}

export class ServiceServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private url = "";
  private closing: Promise<void> | null = null;

  constructor(private readonly cfg: ServiceConfig) {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        cfg.log(`${cfg.name}: unexpected failure writing a reply: ${String(err)}`);
        res.destroy();
      });
    };
    this.server = cfg.tls ? createHttpsServer({ key: cfg.tls.key, cert: cfg.tls.cert }, handler) : createServer(handler);
    this.server.on(cfg.tls ? "secureConnection" : "connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    this.server.on("clientError", (_err, socket: Socket) => socket.destroy());
  }

  get baseUrl(): string {
    return this.url;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, this.cfg.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const { port } = this.server.address() as AddressInfo;
    const h = this.cfg.host.includes(":") ? `[${this.cfg.host}]` : this.cfg.host;
    this.url = `${this.cfg.tls ? "https" : "http"}://${h}:${port}`;
    return this.url;
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closing = new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        for (const s of this.sockets) s.destroy();
        this.server.closeAllConnections();
      });
    }
    return this.closing;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { cfg } = this;
    const method = (req.method ?? "GET").toUpperCase();
    let url: URL;
    try {
      url = new URL(req.url ?? "/", this.url);
    } catch {
      url = new URL("/", this.url);
    }
    const path = cfg.normalizePath ? cfg.normalizePath(url.pathname) : url.pathname;
    const match = cfg.router.match(method, path);
    const template = match.kind === "not-found" ? "(unmatched)" : match.template;
    cfg.counters.hit(`${cfg.name} ${method} ${template}`);

    const fault = cfg.faults.decide(cfg.name, method, url.pathname);
    if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.action?.kind === "drop") {
      req.socket.destroy();
      return;
    }
    const extraHeaders: Headers = cfg.requestIds ? { "x-openstack-request-id": `req-${randomUUID()}` } : {};
    if (fault.action?.kind === "status") {
      const { status, body } = fault.action;
      const reply =
        body !== undefined
          ? ({ kind: "text", status, body, contentType: looksJson(body) ? "application/json" : "text/plain; charset=UTF-8" } as Reply)
          : cfg.formatError(new HttpError(status, "Injected fault"));
      this.write(req, res, reply, extraHeaders);
      return;
    }

    let reply: Reply;
    try {
      if (match.kind === "not-found" || (match.kind === "method-not-allowed" && cfg.wrongMethodStatus === 404)) {
        throw new HttpError(404, "The resource could not be found.");
      }
      if (match.kind === "method-not-allowed") {
        throw new HttpError(405, "The method is not allowed for the requested URL.", {
          headers: { allow: match.allowed.join(", ") },
        });
      }
      const ctx: RequestContext = {
        service: cfg.name,
        req,
        method,
        path,
        query: url.searchParams,
        params: match.params,
        headers: req.headers,
        baseUrl: this.url,
        json: () => readJson(req, cfg.jsonRules),
      };
      const added = cfg.before ? await cfg.before(ctx, match.template) : undefined;
      if (added) Object.assign(extraHeaders, added);
      reply = await match.handler(ctx);
    } catch (err) {
      reply = this.errorReply(err, method, path);
    }

    if (fault.action?.kind === "drop-after-act") {
      if (reply.kind === "stream") reply.body.destroy();
      req.socket.destroy();
      return;
    }
    this.write(req, res, reply, extraHeaders);
  }

  private errorReply(err: unknown, method: string, path: string): Reply {
    if (err instanceof HttpError) {
      if (err.status >= 500) this.cfg.log(`${this.cfg.name}: ${method} ${path} answered ${err.status}: ${err.message}`);
      const reply = err.options.reply ?? this.cfg.formatError(err);
      if (err.options.headers) reply.headers = { ...reply.headers, ...err.options.headers };
      return reply;
    }
    this.cfg.log(`${this.cfg.name}: ${method} ${path} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    return this.cfg.formatError(new HttpError(500, "An unexpected error prevented the server from fulfilling your request."));
  }

  private write(req: IncomingMessage, res: ServerResponse, reply: Reply, extra: Headers): void {
    if (res.headersSent || res.destroyed) return;
    const headers: Record<string, string | number> = { ...extra, ...(reply.headers ?? {}) };
    const isHead = req.method === "HEAD";
    if (reply.kind === "stream") {
      headers["content-type"] = reply.contentType ?? "application/octet-stream";
      if (reply.length !== undefined) headers["content-length"] = reply.length;
      res.writeHead(reply.status, headers);
      if (isHead) {
        reply.body.destroy();
        res.end();
        return;
      }
      reply.body.on("error", () => res.destroy());
      res.on("close", () => reply.body.destroy());
      reply.body.pipe(res);
      return;
    }
    const { contentType, data } = replyBody(reply);
    if (contentType) headers["content-type"] = contentType;
    headers["content-length"] = data ? data.length : 0;
    res.writeHead(reply.status, headers);
    res.end(isHead ? undefined : data);
    if (String(headers.connection ?? "").toLowerCase() === "close") res.on("finish", () => req.socket.destroy());
  }
}

function looksJson(body: string): boolean {
  const t = body.trim();
  return t.startsWith("{") || t.startsWith("[");
}
