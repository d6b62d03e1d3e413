/** What a route handler returns; the service server writes it (or drops it, under a fault). */
import type { Readable } from "node:stream";
import { stringifyJson } from "../util/json";

export type Headers = Record<string, string>;

export type Reply =
  | { kind: "json"; status: number; body: unknown; headers?: Headers }
  | { kind: "text"; status: number; body: string; contentType?: string; headers?: Headers }
  | { kind: "stream"; status: number; body: Readable; contentType?: string; length?: number; headers?: Headers }
  | { kind: "empty"; status: number; headers?: Headers };

export function json(status: number, body: unknown, headers?: Headers): Reply {
  return { kind: "json", status, body, headers };
}

export function text(status: number, body: string, contentType = "text/plain; charset=UTF-8", headers?: Headers): Reply {
  return { kind: "text", status, body, contentType, headers };
}

export function empty(status: number, headers?: Headers): Reply {
  return { kind: "empty", status, headers };
}

export function stream(status: number, body: Readable, contentType: string, length?: number, headers?: Headers): Reply {
  return { kind: "stream", status, body, contentType, length, headers };
}

/** Serialises a reply's body; streams are handled by the server. */
export function replyBody(reply: Reply): { contentType?: string; data?: Buffer } {
  switch (reply.kind) {
    case "json":
      return { contentType: "application/json", data: Buffer.from(stringifyJson(reply.body)) };
    case "text":
      return { contentType: reply.contentType, data: Buffer.from(reply.body) };
    default:
      return {};
  }
}
