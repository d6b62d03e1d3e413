/**
 * A small method + path-template router. Templates look like `/os-aggregates/{id}/action`; the
 * template string doubles as the request-counter key.
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { AuthContext } from "../keystone/identity";
import type { Reply } from "./reply";

export type ServiceName = "keystone" | "nova" | "glance" | "neutron" | "contrail";

export interface RequestContext {
  service: ServiceName;
  req: IncomingMessage;
  method: string;
  /** The routed path (after the service's normalisation, e.g. Nova's project-id prefix). */
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Base URL of the service, e.g. http://127.0.0.1:34567 */
  baseUrl: string;
  /** Parses the JSON body with the service's rules (cap, content type, error messages). */
  json(): Promise<unknown>;
  /** Set by the service's auth step. */
  auth?: AuthContext;
}

export type Handler = (ctx: RequestContext) => Promise<Reply> | Reply;

interface Route {
  method: string;
  template: string;
  segments: string[];
  handler: Handler;
}

export type RouteMatch =
  | { kind: "found"; template: string; params: Record<string, string>; handler: Handler }
  | { kind: "method-not-allowed"; template: string; allowed: string[] }
  | { kind: "not-found" };

function split(path: string): string[] {
  return path.split("/").filter((s) => s !== "");
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, template: string, handler: Handler): this {
    this.routes.push({ method: method.toUpperCase(), template, segments: split(template), handler });
    return this;
  }

  get(t: string, h: Handler): this {
    return this.add("GET", t, h);
  }
  post(t: string, h: Handler): this {
    return this.add("POST", t, h);
  }
  put(t: string, h: Handler): this {
    return this.add("PUT", t, h);
  }
  patch(t: string, h: Handler): this {
    return this.add("PATCH", t, h);
  }
  delete(t: string, h: Handler): this {
    return this.add("DELETE", t, h);
  }
  head(t: string, h: Handler): this {
    return this.add("HEAD", t, h);
  }

  match(method: string, path: string): RouteMatch {
    const segs = split(path);
    let sameTemplate: Route[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segs);
      if (!params) continue;
      if (route.method === method) return { kind: "found", template: route.template, params, handler: route.handler };
      sameTemplate.push(route);
    }
    // HEAD falls back to GET like most WSGI frameworks do.
    if (method === "HEAD") {
      const get = sameTemplate.find((r) => r.method === "GET");
      if (get) return { kind: "found", template: get.template, params: matchSegments(get.segments, segs) ?? {}, handler: get.handler };
    }
    if (sameTemplate.length > 0) {
      sameTemplate = sameTemplate.filter((r, i, all) => all.findIndex((o) => o.method === r.method) === i);
      return { kind: "method-not-allowed", template: sameTemplate[0].template, allowed: sameTemplate.map((r) => r.method) };
    }
    return { kind: "not-found" };
  }
}

function matchSegments(template: string[], path: string[]): Record<string, string> | null {
  if (template.length !== path.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const t = template[i];
    if (t.startsWith("{") && t.endsWith("}")) {
      let value: string;
      try {
        value = decodeURIComponent(path[i]);
      } catch {
        return null;
      }
      params[t.slice(1, -1)] = value;
    } else if (t !== path[i]) {
      return null;
    }
  }
  return params;
}
