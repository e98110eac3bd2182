import createClient from "openapi-fetch";
import type { Client as TypedClient } from "openapi-fetch";

import { HavenError } from "./errors.js";
import type { components, paths } from "./schema.js";

export type AuthResult = components["schemas"]["AuthResult"];

/** The pair of tokens a session holds. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

export interface HavenClientOptions {
  /** Where Haven answers, e.g. `https://care.example.org`. */
  baseUrl: string;
  /** The session to resume, if any (from the app's secure storage). */
  tokens?: Tokens;
  /** Called with every new pair (store it) and with `undefined` when the session ended. */
  onTokens?: (tokens: Tokens | undefined) => void;
  /** Retries of a request that met a network error, 429 or 503 (default 3). */
  maxRetries?: number;
  /** Longest wait honoured from `Retry-After`, in milliseconds (default 60 s). */
  maxRetryAfterMs?: number;
  /** The fetch to use (tests, React Native polyfills). */
  fetch?: typeof fetch;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
const NO_REFRESH = ["/api/v1/auth/login", "/api/v1/auth/signup", "/api/v1/auth/refresh", "/api/v1/auth/signin", "/api/v1/auth/register", "/api/v1/auth/social-login", "/api/v1/auth/google", "/api/v1/auth/mfa/verify"];

/**
 * Haven's API with what every app otherwise writes by hand and gets wrong:
 * - one refresh in flight, shared by every call that found its access token expired (refresh
 *   tokens rotate, and presenting a spent one ends the session everywhere);
 * - an `Idempotency-Key` made once per POST and sent again on each retry, so a retried booking
 *   or payment is applied once;
 * - retries on network errors, 429 and 503, waiting as `Retry-After` says;
 * - errors as `HavenError {status, code, message, details}`.
 *
 * `client.api` is the typed API (`client.api.GET("/api/v1/sessions/{id}", …)`), generated from
 * `haven openapi`; `unwrap` turns its results into data or a thrown `HavenError`.
 */
export class HavenClient {
  readonly baseUrl: string;
  readonly api: TypedClient<paths>;
  private tokens: Tokens | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly options: HavenClientOptions;
  private readonly fetchImpl: typeof fetch;

  constructor(options: HavenClientOptions) {
    this.options = options;
    this.baseUrl = options.baseUrl.replace(/\/$/, "");
    this.tokens = options.tokens;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.api = createClient<paths>({ baseUrl: this.baseUrl, fetch: (request: Request) => this.send(request) });
  }

  /** Whether a session is held. */
  get signedIn(): boolean {
    return this.tokens !== undefined;
  }

  /** The current access token (for a header of your own, or the realtime connection). */
  get accessToken(): string | undefined {
    return this.tokens?.accessToken;
  }

  /** Keeps a new session (an `AuthResult` from sign-up, sign-in or MFA). */
  useSession(auth: Pick<AuthResult, "accessToken" | "refreshToken">): void {
    this.setTokens({ accessToken: auth.accessToken, refreshToken: auth.refreshToken });
  }

  /** Signs in with e-mail and password; MFA-protected accounts answer `AUTH_MFA_REQUIRED`. */
  async signIn(email: string, password: string, mfaCode?: string): Promise<AuthResult> {
    const r = await this.api.POST("/api/v1/auth/login", { body: { email, password, mfaCode } });
    if (!r.response.ok || !r.data) throw HavenError.of(r.response.status, r.error);
    this.useSession(r.data.data);
    return r.data.data;
  }

  /** Ends the session on the server and forgets it here. */
  async signOut(): Promise<void> {
    if (!this.tokens) return;
    await this.api.POST("/api/v1/auth/logout", { body: {} }).catch(() => undefined);
    this.setTokens(undefined);
  }

  /**
   * An access token good for at least `marginSeconds` more (refreshing first when not): what
   * a realtime connection presents each time it connects.
   */
  async freshAccessToken(marginSeconds = 30): Promise<string | undefined> {
    const token = this.tokens?.accessToken;
    if (!token) return undefined;
    const exp = expiryOf(token);
    if (exp !== undefined && exp - Date.now() / 1000 < marginSeconds) {
      await this.refresh(token);
    }
    return this.tokens?.accessToken;
  }

  /**
   * Trades the refresh token for a new pair, once for every caller that saw `stale` fail:
   * callers arriving while a refresh is in flight wait for it; one whose token was already
   * replaced just retries.
   */
  async refresh(stale?: string): Promise<void> {
    if (stale !== undefined && this.tokens?.accessToken !== stale) return;
    this.refreshing ??= this.renew().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async renew(): Promise<void> {
    const refreshToken = this.tokens?.refreshToken;
    if (!refreshToken) throw new HavenError(401, "UNAUTHORIZED", "Not signed in");
    // Never retried: a refresh whose answer was lost may have spent the token already, and
    // presenting a spent token ends the session everywhere.
    const res = await this.fetchImpl(`${this.baseUrl}/api/v1/auth/refresh`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ refreshToken }),
    });
    if (!res.ok) {
      const error = await HavenError.from(res);
      if (res.status === 401) this.setTokens(undefined);
      throw error;
    }
    const body = (await res.json()) as { data: AuthResult };
    this.useSession(body.data);
  }

  private setTokens(tokens: Tokens | undefined): void {
    this.tokens = tokens;
    this.options.onTokens?.(tokens);
  }

  /** Every request of `api` comes through here. */
  private async send(request: Request): Promise<Response> {
    const method = request.method.toUpperCase();
    const body = method === "GET" || method === "HEAD" ? undefined : await request.arrayBuffer();
    const key = method === "POST" ? (request.headers.get("Idempotency-Key") ?? randomKey()) : undefined;
    const path = new URL(request.url).pathname;
    const maxRetries = this.options.maxRetries ?? 3;
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const headers = new Headers(request.headers);
      if (key) headers.set("Idempotency-Key", key);
      const token = this.tokens?.accessToken;
      if (token && !headers.has("Authorization")) headers.set("Authorization", `Bearer ${token}`);
      const retriable = key !== undefined || SAFE.has(method);
      let res: Response;
      try {
        res = await this.fetchImpl(new Request(request.url, { method, headers, body, signal: request.signal }));
      } catch (e) {
        if (retriable && attempt < maxRetries && !request.signal.aborted) {
          await sleep(backoff(attempt));
          continue;
        }
        throw e;
      }
      if (res.status === 401 && token && !refreshed && this.tokens?.refreshToken && !NO_REFRESH.includes(path)) {
        refreshed = true;
        await res.body?.cancel();
        await this.refresh(token);
        continue;
      }
      if ((res.status === 429 || res.status === 503) && retriable && attempt < maxRetries) {
        const wait = retryAfter(res.headers.get("Retry-After")) ?? backoff(attempt);
        if (wait <= (this.options.maxRetryAfterMs ?? 60_000)) {
          await res.body?.cancel();
          await sleep(wait);
          continue;
        }
      }
      return res;
    }
  }
}

/** `Retry-After` in milliseconds: seconds or an HTTP date. */
export function retryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function backoff(attempt: number): number {
  return Math.min(8_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function randomKey(): string {
  return globalThis.crypto.randomUUID();
}

/** A JWT's `exp` (seconds), if it has one. */
function expiryOf(token: string): number | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp : undefined;
  } catch {
    return undefined;
  }
}
