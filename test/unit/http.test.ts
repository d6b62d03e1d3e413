/**
 * The shared HTTP layer (provider/clients/http.ts) against a local node:http server: retries for
 * idempotent calls only (5xx, dropped connections), the ApiError it gives up with, each API's error
 * body format, URL redaction, timeouts, jittered backoff and re-opened streaming bodies.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as http from "http";
import type { AddressInfo } from "net";
import { Readable } from "stream";
import { ApiError, HttpRequest, TransportOptions, backoffDelay, isApiError, redactUrl, send, serverMessage } from "../../provider/clients/http";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number, body: Buffer) => void;

let server: http.Server;
let base = "";
const routes = new Map<string, Handler>();
const counts = new Map<string, number>();
const bodies = new Map<string, string[]>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const key = `${req.method} ${req.url?.split("?")[0]}`;
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      const body = Buffer.concat(chunks);
      bodies.set(key, [...(bodies.get(key) ?? []), body.toString("utf8")]);
      const h = routes.get(key);
      if (!h) {
        res.writeHead(404, { "content-type": "text/plain" });
        return res.end(`no route ${key}`);
      }
      h(req, res, n, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

beforeEach(() => {
  routes.clear();
  counts.clear();
  bodies.clear();
});

const FAST: TransportOptions = { retries: 3, backoffMs: 1, maxBackoffMs: 5, timeoutMs: 2000 };

function req(method: string, path: string, over: Partial<HttpRequest> = {}): HttpRequest {
  return { service: "nova", call: `call ${path}`, method, url: `${base}${path}`, ...over };
}

function failWithStatus(status: number, times: number, body = '{"computeFault":{"code":503,"message":"busy"}}'): Handler {
  return (_req, res, n) => {
    if (n <= times) {
      res.writeHead(status, { "content-type": "application/json" });
      return res.end(body);
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ attempt: n }));
  };
}

async function rejection(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    expect(isApiError(e)).toBe(true);
    return e as ApiError;
  }
  throw new Error("expected a rejection");
}

describe("retries", () => {
  it("retries an idempotent GET on 503 and then succeeds", async () => {
    routes.set("GET /flaky", failWithStatus(503, 2));
    const logs: string[] = [];
    const res = await send(req("GET", "/flaky"), { ...FAST, log: (m) => logs.push(m) });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ attempt: 3 });
    expect(counts.get("GET /flaky")).toBe(3);
    expect(logs).toHaveLength(2);
    expect(logs[0]).toMatch(/HTTP 503, retrying/);
  });

  it("does not retry a POST on 503", async () => {
    routes.set("POST /create", failWithStatus(503, 1));
    const e = await rejection(send(req("POST", "/create", { json: { a: 1 } }), FAST));
    expect(e.status).toBe(503);
    expect(counts.get("POST /create")).toBe(1);
  });

  it("retries a POST marked idempotent", async () => {
    routes.set("POST /create", failWithStatus(503, 1));
    const res = await send(req("POST", "/create", { json: { a: 1 }, idempotent: true }), FAST);
    expect(res.status).toBe(200);
    expect(counts.get("POST /create")).toBe(2);
    expect(bodies.get("POST /create")).toEqual(['{"a":1}', '{"a":1}']);
  });

  it("does not retry a GET on a 4xx", async () => {
    routes.set("GET /bad", failWithStatus(400, 5, '{"badRequest":{"code":400,"message":"nope"}}'));
    const e = await rejection(send(req("GET", "/bad"), FAST));
    expect(e.status).toBe(400);
    expect(e.serverMessage).toBe("nope");
    expect(counts.get("GET /bad")).toBe(1);
  });

  it("retries a GET on a dropped connection", async () => {
    routes.set("GET /drop", (req, res, n) => {
      if (n === 1) return req.socket.destroy();
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"ok":true}');
    });
    const res = await send(req("GET", "/drop"), FAST);
    expect(res.json()).toEqual({ ok: true });
    expect(counts.get("GET /drop")).toBe(2);
  });

  it("does not retry a POST on a dropped connection (it may have reached the server)", async () => {
    routes.set("POST /drop", (req) => req.socket.destroy());
    const e = await rejection(send(req("POST", "/drop", { json: {} }), FAST));
    expect(e.status).toBe(0);
    expect(e.code).toBe("ECONNRESET");
    expect(counts.get("POST /drop")).toBe(1);
  });

  it("gives up after `retries` with an ApiError naming service, call, method, status and the server's message", async () => {
    routes.set("GET /down", failWithStatus(503, 100, '{"computeFault":{"code":503,"message":"nova-api is overloaded"}}'));
    const e = await rejection(send({ service: "nova", call: "list aggregates", method: "GET", url: `${base}/down` }, { ...FAST, retries: 2 }));
    expect(counts.get("GET /down")).toBe(3);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.service).toBe("nova");
    expect(e.call).toBe("list aggregates");
    expect(e.method).toBe("GET");
    expect(e.status).toBe(503);
    expect(e.serverMessage).toBe("nova-api is overloaded");
    expect(e.url).toBe(`${base}/down`);
    expect(e.message).toContain("nova: list aggregates failed: HTTP 503 from GET");
    expect(e.message).toContain("nova-api is overloaded");
  });

  it("a refused connection is retried even for a POST (it never reached the server)", async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const logs: string[] = [];
    const e = await rejection(send({ service: "glance", call: "create image", method: "POST", url: `http://127.0.0.1:${port}/v2/images`, json: {} }, { ...FAST, retries: 2, log: (m) => logs.push(m) }));
    expect(e.code).toBe("ECONNREFUSED");
    expect(e.status).toBe(0);
    expect(logs).toHaveLength(2);
    expect(e.serverMessage).toMatch(/connection refused/);
  });

  it("re-opens a streaming body factory on each attempt", async () => {
    routes.set("PUT /upload", failWithStatus(503, 1));
    let opened = 0;
    const res = await send(
      req("PUT", "/upload", {
        body: () => {
          opened++;
          return Readable.from([Buffer.from("chunk-a|"), Buffer.from("chunk-b")]);
        },
      }),
      FAST,
    );
    expect(res.status).toBe(200);
    expect(opened).toBe(2);
    expect(bodies.get("PUT /upload")).toEqual(["chunk-a|chunk-b", "chunk-a|chunk-b"]);
  });

  it("honours `expect`: a 201-only call treats 200 as an error", async () => {
    routes.set("POST /tokens", (_q, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
    const e = await rejection(send(req("POST", "/tokens", { expect: [201] }), FAST));
    expect(e.status).toBe(200);
  });
});

describe("timeout", () => {
  it("a server that never answers gives code ETIMEDOUT", async () => {
    routes.set("GET /hang", () => {
      /* never answer */
    });
    const started = Date.now();
    const e = await rejection(send(req("GET", "/hang"), { retries: 0, timeoutMs: 60 }));
    expect(e.code).toBe("ETIMEDOUT");
    expect(e.status).toBe(0);
    expect(e.serverMessage).toBe("timed out after 60 ms");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("a per-request timeout overrides the transport's, and a timed-out GET is retried", async () => {
    routes.set("GET /slow-once", (_q, res, n) => {
      if (n === 1) return; // hang
      res.writeHead(200);
      res.end("ok");
    });
    const res = await send(req("GET", "/slow-once", { timeoutMs: 60 }), { ...FAST, timeoutMs: 60_000 });
    expect(res.text()).toBe("ok");
    expect(counts.get("GET /slow-once")).toBe(2);
  });
});

describe("serverMessage: each API's error body", () => {
  it("Nova", () => {
    expect(serverMessage('{"conflictingRequest": {"code": 409, "message": "m"}}')).toBe("m");
    expect(serverMessage('{"itemNotFound": {"code": 404, "message": "Aggregate 7 could not be found."}}')).toBe("Aggregate 7 could not be found.");
  });

  it("Neutron (message, with detail when it adds something)", () => {
    expect(serverMessage('{"NeutronError": {"type": "NetworkNotFound", "message": "Network abc could not be found.", "detail": ""}}')).toBe("Network abc could not be found.");
    expect(serverMessage('{"NeutronError": {"type": "X", "message": "Bad", "detail": "because"}}')).toBe("Bad (because)");
  });

  it("Keystone", () => {
    expect(serverMessage('{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}', "application/json")).toBe(
      "The request you have made requires authentication.",
    );
  });

  it("Glance HTML page: tags and title stripped", () => {
    const page =
      "<html>\n <head>\n  <title>400 Bad Request</title>\n </head>\n <body>\n  <h1>400 Bad Request</h1>\n  Provided object does not match schema 'image': 'docker' is not one of ['ami', 'bare']<br /><br />\n\n\n\n </body>\n</html>";
    expect(serverMessage(page, "text/html")).toBe("400 Bad Request Provided object does not match schema 'image': 'docker' is not one of ['ami', 'bare']");
  });

  it("Contrail plain text", () => {
    expect(serverMessage("Rule with invalid protocol : foo\n", "text/plain")).toBe("Rule with invalid protocol : foo");
    expect(serverMessage(Buffer.from("Delete when children still present: ['default-domain:demo:si']"))).toBe("Delete when children still present: ['default-domain:demo:si']");
  });

  it("empty body and very long bodies", () => {
    expect(serverMessage("")).toBe("(empty body)");
    const long = serverMessage("x".repeat(5000));
    expect(long.length).toBeLessThanOrEqual(601);
    expect(long.endsWith("…")).toBe(true);
  });

  it("the parsed message reaches the ApiError", async () => {
    routes.set("POST /ports", (_q, res) => {
      res.writeHead(409, { "content-type": "application/json" });
      res.end('{"NeutronError": {"type": "MacAddressInUse", "message": "Unable to complete operation for network n.", "detail": ""}}');
    });
    const e = await rejection(send(req("POST", "/ports", { service: "neutron" }), FAST));
    expect(e.serverMessage).toBe("Unable to complete operation for network n.");
  });
});

describe("redactUrl", () => {
  it("removes user info", () => {
    const r = redactUrl("https://admin:hunter2@keystone:5000/v3/auth/tokens");
    expect(r).not.toContain("hunter2");
    expect(r).not.toContain("admin");
    expect(r).toBe("https://keystone:5000/v3/auth/tokens");
  });

  it("masks query values that could be credentials, keeps the others", () => {
    const r = redactUrl("http://h/x?token=abc123&name=fw&api_key=k9&client_secret=s3&password=p4");
    expect(r).not.toMatch(/abc123|k9|s3|p4/);
    expect(r).toContain("name=fw");
    expect(r).toContain("token=***");
  });

  it("leaves a non-URL alone", () => {
    expect(redactUrl("not a url")).toBe("not a url");
  });

  it("an ApiError's message and url are redacted", async () => {
    routes.set("GET /secret", failWithStatus(403, 1, '{"forbidden":{"code":403,"message":"no"}}'));
    const url = `${base.replace("http://", "http://bob:pa55word@")}/secret?token=tok-xyz`;
    const e = await rejection(send({ service: "glance", call: "get", method: "GET", url }, FAST));
    expect(e.message).not.toContain("pa55word");
    expect(e.message).not.toContain("tok-xyz");
    expect(e.url).not.toContain("pa55word");
  });
});

describe("backoffDelay", () => {
  it("full jitter: 0 .. min(max, base * 2^attempt)", () => {
    expect(backoffDelay(0, 250, 5000, () => 0)).toBe(0);
    expect(backoffDelay(0, 250, 5000, () => 0.5)).toBe(125);
    expect(backoffDelay(3, 250, 5000, () => 0.5)).toBe(1000);
    // capped by max
    expect(backoffDelay(10, 250, 5000, () => 0.5)).toBe(2500);
    expect(backoffDelay(10, 250, 5000, () => 0.999999)).toBeLessThan(5000);
  });

  it("stays within bounds for any random value", () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      for (const r of [0, 0.1, 0.37, 0.5, 0.9, 0.999999]) {
        const d = backoffDelay(attempt, 100, 3000, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.min(3000, 100 * 2 ** attempt));
        expect(Number.isInteger(d)).toBe(true);
      }
    }
  });
});
