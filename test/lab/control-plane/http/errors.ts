/** An error a handler throws to answer with a status; each service formats it its own way. */
import type { Reply } from "./reply";

export interface HttpErrorOptions {
  /** Neutron's `NeutronError.type` (e.g. `NetworkNotFound`). */
  type?: string;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** A complete reply that bypasses the service's error format (e.g. keystonemiddleware's 401). */
  reply?: Reply;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly options: HttpErrorOptions = {},
  ) {
    super(message);
  }
}

export const STATUS_TITLES: Record<number, string> = {
  300: "Multiple Choices",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  409: "Conflict",
  410: "Gone",
  412: "Precondition Failed",
  413: "Request Entity Too Large",
  415: "Unsupported Media Type",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export function statusTitle(status: number): string {
  return STATUS_TITLES[status] ?? "Error";
}
