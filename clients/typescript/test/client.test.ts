// The client against a live Haven (scripts/client-typescript starts one): the refresh race,
// the idempotent retry, Retry-After, typed errors, the offline queue and the realtime
// connection's fresh token. An expired access token is made by rewriting a real one's `exp`
// (the server refuses it, as it refuses any token past its time): no test waits out the TTL.
import assert from "node:assert/strict";
import { test } from "node:test";

import { HavenClient, HavenError, WellnessSync, connectRealtime, unwrap } from "../src/index.js";
import type { Tokens } from "../src/index.js";

const base = process.env.HAVEN_URL ?? "http://127.0.0.1:8080";

/** The same token said to have expired a minute ago (its signature no longer holds). */
function expired(token: string): string {
  const [head, payload, signature] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString()) as { exp: number };
  claims.exp = Math.floor(Date.now() / 1000) - 60;
  return [head, Buffer.from(JSON.stringify(claims)).toString("base64url"), signature].join(".");
}

/** A fetch that counts and can misbehave, in front of the real one. */
class Wire {
  refreshes = 0;
  offline = false;
  /** Performs the matching request, then loses its answer (a dropped connection). */
  loseAnswerOf: ((r: Request) => boolean) | undefined;
  /** Answers the matching request itself, once, with this response. */
  answerOnce: { when: (r: Request) => boolean; response: () => Response } | undefined;
  readonly fetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    if (new URL(request.url).pathname === "/api/v1/auth/refresh") this.refreshes++;
    if (this.offline) throw new TypeError("fetch failed: offline");
    const once = this.answerOnce;
    if (once?.when(request)) {
      this.answerOnce = undefined;
      return once.response();
    }
    const res = await globalThis.fetch(request);
    if (this.loseAnswerOf?.(request)) {
      this.loseAnswerOf = undefined;
      throw new TypeError("fetch failed: connection reset");
    }
    return res;
  };
}

interface Member {
  client: HavenClient;
  wire: Wire;
  email: string;
  /** The pair as the app would store it (`onTokens`). */
  stored: () => Tokens;
  /** Makes the held access token an expired one. */
  expire: () => void;
}

async function member(wire = new Wire(), maxRetries = 3): Promise<Member> {
  let stored: Tokens | undefined;
  const client = new HavenClient({ baseUrl: base, fetch: wire.fetch, maxRetries, onTokens: (t) => (stored = t) });
  const email = `ts-client-${crypto.randomUUID().slice(0, 12)}@example.org`;
  const auth = unwrap(
    await client.api.POST("/api/v1/auth/signup", {
      body: { email, password: "Correct-horse-9", firstName: "Tess", lastName: "Client" },
    }),
  ).data;
  client.useSession(auth);
  const held = () => {
    assert.ok(stored);
    return stored;
  };
  const expire = () => {
    const t = held();
    client.useSession({ accessToken: expired(t.accessToken), refreshToken: t.refreshToken });
  };
  return { client, wire, email, stored: held, expire };
}

test("ten calls that find the access token expired share one refresh", async () => {
  const { client, wire, email, expire } = await member();
  expire();
  const first = client.accessToken;
  const answers = await Promise.all(Array.from({ length: 10 }, () => client.api.GET("/api/v1/auth/me", {})));
  for (const a of answers) assert.equal(unwrap(a).data.email, email);
  assert.equal(wire.refreshes, 1, "one refresh for all ten");
  assert.notEqual(client.accessToken, first);
  // The session survived: a second refresh would have presented a spent token and ended it.
  assert.equal(unwrap(await client.api.GET("/api/v1/auth/me", {})).data.email, email);
});

test("a POST whose answer was lost is retried with the same key and applied once", async () => {
  const { client, wire } = await member();
  wire.loseAnswerOf = (r) => r.method === "POST" && new URL(r.url).pathname === "/api/v1/mood/entries";
  const created = unwrap(await client.api.POST("/api/v1/mood/entries", { body: { mood: 3, note: "retried once" } }));
  assert.equal(wire.loseAnswerOf, undefined, "the first answer was lost");
  const entries = unwrap(await client.api.GET("/api/v1/mood/entries", {})).data;
  assert.equal(entries.filter((e) => e.note === "retried once").length, 1);
  assert.equal(entries[0]?.id, created.data.id);
});

test("a 429's Retry-After is waited out before the retry", async () => {
  const { client, wire, email } = await member();
  wire.answerOnce = {
    when: (r) => new URL(r.url).pathname === "/api/v1/auth/me",
    response: () =>
      new Response(JSON.stringify({ error: { code: "RATE_LIMITED", message: "Slow down" }, meta: {} }), {
        status: 429,
        headers: { "Retry-After": "1", "Content-Type": "application/json" },
      }),
  };
  const started = Date.now();
  const me = unwrap(await client.api.GET("/api/v1/auth/me", {}));
  assert.equal(me.data.email, email);
  assert.ok(Date.now() - started >= 950, `waited ${Date.now() - started} ms`);
});

test("errors arrive typed: code, message and the fields named", async () => {
  const { client } = await member();
  await assert.rejects(
    async () => unwrap(await client.api.GET("/api/v1/sessions/{id}", { params: { path: { id: "no-such-session" } } })),
    (e: unknown) => e instanceof HavenError && e.status === 404 && e.code === "NOT_FOUND",
  );
  await assert.rejects(
    async () => unwrap(await client.api.POST("/api/v1/mood/entries", { body: { mood: 9 } })),
    (e: unknown) => e instanceof HavenError && e.code === "VALIDATION_ERROR" && e.field("mood") !== undefined,
  );
});

test("wellness logs recorded offline reach the server once when it is back", async () => {
  const { client, wire } = await member(new Wire(), 0);
  const sync = new WellnessSync(client);
  const today = new Date().toISOString().slice(0, 10);
  wire.offline = true;
  await sync.record({ op: "upsert", date: today, domain: "sleep", score: 7, note: "offline" });
  await sync.record({ op: "upsert", date: today, domain: "movement", score: 4 });
  await assert.rejects(sync.flush());
  assert.equal((await sync.pending()).length, 2, "kept while offline");
  wire.offline = false;
  const rows = await sync.flush();
  assert.equal((await sync.pending()).length, 0);
  assert.ok(rows.some((r) => r.domain === "sleep" && r.score === 7), JSON.stringify(rows));
  await sync.flush();
  const logs = unwrap(await client.api.GET("/api/v1/wellness/logs", {})).data;
  assert.equal(logs.length, 2, JSON.stringify(logs));
});

test("the realtime connection presents a fresh token when it connects again", async () => {
  const { client, wire, expire } = await member();
  const socket = connectRealtime(client);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", reject);
    });
    expire();
    const again = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.io.engine.close(); // the network drops; Socket.IO reconnects by itself
    await again;
    assert.equal(wire.refreshes, 1, "the expired token was refreshed before reconnecting");
    assert.ok(socket.connected);
  } finally {
    socket.disconnect();
  }
});
