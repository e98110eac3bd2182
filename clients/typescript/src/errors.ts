import type { components } from "./schema.js";

/** One field's problem, as the API names it (`items[0].description`). */
export type FieldError = components["schemas"]["FieldError"];
/** A stable code from API.md's table, or a domain's own (`CARE_EXISTS`). */
export type ErrorCode = components["schemas"]["ErrorCode"] | (string & {});

/** An answer that was not a success: the API's `{error: {code, message, details}}`. */
export class HavenError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly details: FieldError[];
  readonly traceId: string | undefined;

  constructor(status: number, code: ErrorCode, message: string, details: FieldError[] = [], traceId?: string) {
    super(message);
    this.name = "HavenError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.traceId = traceId;
  }

  /** The problem with one field, if the answer named it. */
  field(name: string): string | undefined {
    return this.details.find((d) => d.field === name)?.message;
  }

  /** Reads an error answer (or anything else that came back) into a `HavenError`. */
  static async from(response: Response): Promise<HavenError> {
    const body: unknown = await response.json().catch(() => undefined);
    return HavenError.of(response.status, body);
  }

  static of(status: number, body: unknown): HavenError {
    const b = body as { error?: { code?: string; message?: string; details?: FieldError[] }; meta?: { traceId?: string } };
    return new HavenError(
      status,
      b?.error?.code ?? "UNKNOWN",
      b?.error?.message ?? `The server answered ${status}`,
      b?.error?.details ?? [],
      b?.meta?.traceId,
    );
  }
}

/** The data of a result from `client.api`, or its error thrown as a `HavenError`. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data !== undefined && result.response.ok) {
    return result.data;
  }
  throw HavenError.of(result.response.status, result.error);
}
