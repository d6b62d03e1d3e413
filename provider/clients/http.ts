/**
 * The one HTTP layer every API client goes through.
 *
 * - timeouts on every request (connect + idle socket), TLS verification on by default (a CA bundle
 *   may be given; turning verification off is explicit and logged loudly by the caller's config);
 * - retries with jittered exponential backoff, for idempotent requests only, on 5xx/429 answers and
 *   on dropped connections; a non-idempotent request is retried only when it provably never
 *   reached the server (connection refused);
 * - an `ApiError` that names the call, the method, the URL, the status and the server's own message
 *   (parsed from each API's error body format).
 *
 * Node's own http/https modules are required inside functions: this file is serialized by value
 * into Pulumi dynamic providers, so it must not hold live sockets or agents at module scope.
 */
import type { IncomingHttpHeaders } from "http";
import type { Readable } from "stream";

export type ServiceName = "keystone" | "nova" | "glance" | "neutron" | "contrail" | "docker";

export interface TransportOptions {
  /** PEM CA bundle (contents) to trust in addition to nothing else: replaces the system store. */
  ca?: string;
  /** Skip TLS verification. Only ever set from an explicit user setting. */
  insecure?: boolean;
  /** Per-attempt timeout in ms (socket idle and connect). Default 30 s. */
  timeoutMs?: number;
  /** Extra attempts for retryable failures. Default 4. */
  retries?: number;
  /** First backoff delay in ms (then doubled, with full jitter). Default 250 ms. */
  backoffMs?: number;
  /** Maximum single backoff delay in ms. Default 5 s. */
  maxBackoffMs?: number;
  /** Where retry notices go (never receives secrets). Default: nowhere. */
  log?: (message: string) => void;
}

export interface HttpRequest {
  service: ServiceName;
  /** Human label of the call, e.g. "create service-template default-domain:fw". */
  call: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** JSON body (serialized with content-type application/json unless a content-type is given). */
  json?: unknown;
  /** Raw body, or a factory that opens a fresh stream per attempt (so the request can be retried). */
  body?: Buffer | string | (() => Readable);
  /** Safe to repeat. Defaults to true for GET/HEAD/PUT/DELETE/OPTIONS and false for POST/PATCH. */
  idempotent?: boolean;
  /** Statuses that are not errors. Default: any 2xx. */
  expect?: number[];
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text(): string;
  json<T = any>(): T;
}

/** An API answered with an unexpected status, or could not be reached. */
export class ApiError extends Error {
  readonly service: ServiceName;
  readonly call: string;
  readonly method: string;
  readonly url: string;
  /** HTTP status, or 0 when no answer was received. */
  readonly status: number;
  /** The server's own message (or the transport error), never a request body. */
  readonly serverMessage: string;
  /** Transport error code such as ECONNRESET, when status is 0. */
  readonly code?: string;

  constructor(init: { service: ServiceName; call: string; method: string; url: string; status: number; serverMessage: string; code?: string }) {
    const where = `${init.method} ${redactUrl(init.url)}`;
    const what = init.status ? `HTTP ${init.status}` : `no answer (${init.code ?? "error"})`;
    const message = `${init.service}: ${init.call} failed: ${what} from ${where}: ${init.serverMessage}`;
    super(message);
    // Set again: in a Pulumi-serialized provider, `super` becomes `Error.call(this, …)`, which
    // sets nothing on `this` (and the object is no `instanceof Error` there).
    this.message = message;
    this.name = "ApiError";
    this.service = init.service;
    this.call = init.call;
    this.method = init.method;
    this.url = redactUrl(init.url);
    this.status = init.status;
    this.serverMessage = init.serverMessage;
    this.code = init.code;
  }
}

export function isApiError(e: unknown, status?: number): e is ApiError {
  // Structural, not `instanceof`: a serialized provider has its own copy of the class.
  return typeof e === "object" && e !== null && (e as ApiError).name === "ApiError" && (status === undefined || (e as ApiError).status === status);
}

/** Remove userinfo and query-string values that could carry credentials. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = "";
      u.password = "";
    }
    for (const k of Array.from(u.searchParams.keys())) {
      if (/token|secret|password|key/i.test(k)) u.searchParams.set(k, "***");
    }
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Extract the server's message from an error body. Each API has its own shape:
 * Nova `{"conflictingRequest": {"code": 409, "message": "..."}}`, Neutron
 * `{"NeutronError": {"type", "message", "detail"}}`, Keystone `{"error": {"message"}}`,
 * Glance a webob text/HTML page, Contrail plain text.
 */
export function serverMessage(body: Buffer | string, contentType?: string): string {
  const text = (typeof body === "string" ? body : body.toString("utf8")).trim();
  if (!text) return "(empty body)";
  if (text.startsWith("{") || (contentType ?? "").includes("json")) {
    try {
      const parsed = JSON.parse(text);
      const msg = findMessage(parsed);
      if (msg) return truncate(msg);
    } catch {
      /* not JSON after all */
    }
  }
  if (/<html|<body|<h1|<title/i.test(text)) {
    const stripped = text
      .replace(/<title>[\s\S]*?<\/title>/gi, " ")
      .replace(/<[^>]+>/g, " ")
      .replace(/\s+/g, " ")
      .trim();
    return truncate(stripped);
  }
  return truncate(text.replace(/\s+/g, " "));
}

function findMessage(v: any): string | undefined {
  if (!v || typeof v !== "object") return undefined;
  if (typeof v.message === "string") {
    return typeof v.detail === "string" && v.detail && v.detail !== v.message ? `${v.message} (${v.detail})` : v.message;
  }
  if (typeof v.error === "string") return v.error;
  if (typeof v.title === "string" && typeof v.description === "string") return `${v.title}: ${v.description}`;
  const keys = Object.keys(v);
  if (keys.length === 1) return findMessage(v[keys[0]]);
  for (const k of ["error", "NeutronError", "badRequest", "itemNotFound", "conflictingRequest", "forbidden", "computeFault", "overLimit"]) {
    if (v[k]) return findMessage(v[k]);
  }
  return undefined;
}

function truncate(s: string, n = 600): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

// Plain arrays, not Sets: Pulumi's closure serializer turns a captured Set into a plain object.
const RETRYABLE_STATUS: readonly number[] = [429, 500, 502, 503, 504];
const RETRYABLE_CODES: readonly string[] = ["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ESOCKETTIMEDOUT", "EAI_AGAIN", "ECONNABORTED", "UND_ERR_SOCKET"];
/** Errors that prove the request never reached the server: safe to retry even a POST. */
const NOT_SENT_CODES: readonly string[] = ["ECONNREFUSED", "EAI_AGAIN"];

function defaultIdempotent(method: string): boolean {
  return ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"].includes(method.toUpperCase());
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Full-jitter exponential backoff. */
export function backoffDelay(attempt: number, base: number, max: number, random: () => number = Math.random): number {
  const cap = Math.min(max, base * 2 ** attempt);
  return Math.floor(random() * cap);
}

/** Send a request with retries; resolves with the response or rejects with an `ApiError`. */
export async function send(req: HttpRequest, opts: TransportOptions = {}): Promise<HttpResponse> {
  const retries = opts.retries ?? 4;
  const idempotent = req.idempotent ?? defaultIdempotent(req.method);
  let attempt = 0;
  for (;;) {
    let res: HttpResponse | undefined;
    let transportError: (Error & { code?: string }) | undefined;
    try {
      res = await sendOnce(req, opts);
    } catch (e) {
      transportError = e as Error & { code?: string };
    }
    if (res) {
      const ok = req.expect ? req.expect.includes(res.status) : res.status >= 200 && res.status < 300;
      if (ok) return res;
      const retry = idempotent && RETRYABLE_STATUS.includes(res.status) && attempt < retries;
      if (!retry) {
        throw new ApiError({
          service: req.service,
          call: req.call,
          method: req.method,
          url: req.url,
          status: res.status,
          serverMessage: serverMessage(res.body, String(res.headers["content-type"] ?? "")),
        });
      }
      const retryAfter = Number(res.headers["retry-after"]);
      const wait = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, opts.maxBackoffMs ?? 5000) : backoffDelay(attempt, opts.backoffMs ?? 250, opts.maxBackoffMs ?? 5000);
      opts.log?.(`${req.service}: ${req.call}: HTTP ${res.status}, retrying in ${wait} ms (attempt ${attempt + 2} of ${retries + 1})`);
      await sleep(wait);
      attempt++;
      continue;
    }
    const code = transportError?.code ?? "ERROR";
    const retryable = RETRYABLE_CODES.includes(code) && (idempotent || NOT_SENT_CODES.includes(code));
    if (!retryable || attempt >= retries) {
      throw new ApiError({
        service: req.service,
        call: req.call,
        method: req.method,
        url: req.url,
        status: 0,
        code,
        serverMessage: describeTransportError(transportError, req, opts),
      });
    }
    const wait = backoffDelay(attempt, opts.backoffMs ?? 250, opts.maxBackoffMs ?? 5000);
    opts.log?.(`${req.service}: ${req.call}: ${code}, retrying in ${wait} ms (attempt ${attempt + 2} of ${retries + 1})`);
    await sleep(wait);
    attempt++;
  }
}

function describeTransportError(e: (Error & { code?: string }) | undefined, req: HttpRequest, opts: TransportOptions): string {
  if (!e) return "unknown error";
  const code = e.code ?? "";
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code) || /certificate/i.test(e.message)) {
    return `the server's TLS certificate is not trusted (${code || e.message}). Give the CA bundle that signed it (OS_CACERT, clouds.yaml "cacert", or the connection's "cacert"); disabling verification ("insecure") is possible but unsafe.`;
  }
  if (code === "ETIMEDOUT" || code === "ESOCKETTIMEDOUT") return `timed out after ${req.timeoutMs ?? opts.timeoutMs ?? 30000} ms`;
  if (code === "ECONNREFUSED") return `connection refused: is the endpoint ${redactUrl(req.url)} right and the service up?`;
  if (code === "ECONNRESET") return "the connection was dropped before a complete answer arrived";
  return e.message;
}

function sendOnce(req: HttpRequest, opts: TransportOptions): Promise<HttpResponse> {
  const url = new URL(req.url);
  const isHttps = url.protocol === "https:";
  const mod: typeof import("https") = isHttps ? require("https") : require("http");
  const headers: Record<string, string> = { accept: "application/json", ...(req.headers ?? {}) };
  let payload: Buffer | undefined;
  let stream: Readable | undefined;
  if (req.json !== undefined) {
    payload = Buffer.from(JSON.stringify(req.json));
    if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
  } else if (typeof req.body === "function") {
    stream = req.body();
  } else if (req.body !== undefined) {
    payload = Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
  }
  if (payload) headers["content-length"] = String(payload.length);
  const timeout = req.timeoutMs ?? opts.timeoutMs ?? 30_000;

  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const fail = (e: Error & { code?: string }) => {
      if (settled) return;
      settled = true;
      stream?.destroy();
      reject(e);
    };
    const r = mod.request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port || (isHttps ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method: req.method.toUpperCase(),
        headers,
        timeout,
        agent: false,
        ...(isHttps ? { ca: opts.ca, rejectUnauthorized: !opts.insecure } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e) => fail(e));
        res.on("aborted", () => fail(Object.assign(new Error("response aborted"), { code: "ECONNRESET" })));
        res.on("end", () => {
          if (settled) return;
          if (!res.complete) return fail(Object.assign(new Error("response incomplete"), { code: "ECONNRESET" }));
          settled = true;
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: () => body.toString("utf8"),
            json: () => (body.length ? JSON.parse(body.toString("utf8")) : undefined),
          });
        });
      },
    );
    r.on("timeout", () => r.destroy(Object.assign(new Error(`timed out after ${timeout} ms`), { code: "ETIMEDOUT" })));
    r.on("error", (e: Error & { code?: string }) => fail(e));
    if (stream) {
      stream.on("error", (e) => {
        r.destroy(e);
        fail(e);
      });
      stream.pipe(r);
    } else {
      r.end(payload);
    }
  });
}
