/** Request body reading with a size cap, content-type checks and JSON parsing. */
import type { IncomingMessage } from "node:http";
import { HttpError } from "./errors";

/** The cap on JSON request bodies. */
export const MAX_JSON_BYTES = 1024 * 1024;

/** The media type of a Content-Type header, lower-cased, without parameters ("" if absent). */
export function mediaType(req: IncomingMessage): string {
  const ct = req.headers["content-type"];
  return (ct ?? "").split(";")[0].trim().toLowerCase();
}

/** True when the request announces or streams a body. */
export function hasBody(req: IncomingMessage): boolean {
  const len = req.headers["content-length"];
  if (len !== undefined) return Number(len) > 0;
  return req.headers["transfer-encoding"] !== undefined;
}

/** Bodies past the cap are still read (and discarded) up to this size, so the 413 reaches the client. */
const DRAIN_LIMIT = 256 * 1024 * 1024;

/** Reads the whole body, refusing more than `limit` bytes with a 413. */
export async function readCapped(req: IncomingMessage, limit: number, tooLarge: string): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  const chunks: Buffer[] = [];
  let size = 0;
  if (declared <= DRAIN_LIMIT) {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > DRAIN_LIMIT) break;
      if (size <= limit) chunks.push(chunk);
    }
  }
  if (declared > limit || size > limit) {
    const closeAfter = declared > DRAIN_LIMIT || size > DRAIN_LIMIT;
    throw new HttpError(413, tooLarge, closeAfter ? { headers: { connection: "close" } } : {});
  }
  return Buffer.concat(chunks);
}

export interface JsonBodyRules {
  /** Message for unparsable JSON (400). */
  malformed: string;
  /** Message for a body over the cap (413). */
  tooLarge: string;
  /** Status and message for a non-JSON content type, or null when the API ignores the header. */
  unsupportedType: { status: number; message: string } | null;
  /** Media types accepted besides application/json. */
  accept?: string[];
}

/** Reads and parses a JSON body; an empty body gives `undefined`. */
export async function readJson(req: IncomingMessage, rules: JsonBodyRules): Promise<unknown> {
  const type = mediaType(req);
  const accepted = ["application/json", ...(rules.accept ?? [])];
  if (rules.unsupportedType !== null && type !== "" && !accepted.includes(type)) {
    // Drain what the client sends so the connection can answer cleanly.
    req.resume();
    throw new HttpError(rules.unsupportedType.status, rules.unsupportedType.message);
  }
  const raw = await readCapped(req, MAX_JSON_BYTES, rules.tooLarge);
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, rules.malformed);
  }
}
