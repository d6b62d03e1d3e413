/**
 * The keystonemiddleware step every non-Keystone service runs: X-Auth-Token → AuthContext, or a 401
 * with the middleware's own JSON body and WWW-Authenticate header.
 */
import { HttpError } from "./http/errors";
import { json } from "./http/reply";
import type { RequestContext } from "./http/router";
import type { AuthContext, Identity } from "./keystone/identity";

export const UNAUTHORIZED_MESSAGE = "The request you have made requires authentication.";

export function unauthorized(keystoneUrl: string): HttpError {
  return new HttpError(401, UNAUTHORIZED_MESSAGE, {
    reply: json(
      401,
      { error: { code: 401, title: "Unauthorized", message: UNAUTHORIZED_MESSAGE } },
      { "www-authenticate": `Keystone uri="${keystoneUrl}"` },
    ),
  });
}

export function tokenHeader(ctx: RequestContext): string | undefined {
  const v = ctx.headers["x-auth-token"];
  return Array.isArray(v) ? v[0] : v;
}

/** Validates the caller's token and stores the context on the request. */
export function authenticate(identity: Identity, keystoneUrl: () => string, ctx: RequestContext): AuthContext {
  const auth = identity.context(tokenHeader(ctx));
  if (!auth) throw unauthorized(keystoneUrl());
  ctx.auth = auth;
  return auth;
}

/** The authenticated caller of a route that ran `authenticate` first. */
export function caller(ctx: RequestContext): AuthContext {
  if (!ctx.auth) throw new Error(`route ${ctx.method} ${ctx.path} used caller() without authentication`);
  return ctx.auth;
}
