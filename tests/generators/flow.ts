// A member's first minutes through the types openapi-typescript generated from `haven openapi`,
// with openapi-fetch: sign up, log a mood, book a session with a practitioner, read it back,
// refresh the tokens and carry on with the new pair. Compiled with `tsc --strict` and run by
// scripts/generators against a live Haven: a schema the compiler accepts but the wire
// contradicts fails here.
import createClient from "openapi-fetch";
import type { paths } from "./haven.js";

const [base, coachName] = process.argv.slice(2);

function must<T>(r: { data?: T; error?: unknown; response: Response }, status: number): T {
  if (r.response.status !== status || r.data === undefined) {
    throw new Error(`${r.response.url}: ${r.response.status} ${JSON.stringify(r.error)}`);
  }
  return r.data;
}

const anon = createClient<paths>({ baseUrl: base });
const email = `ts-${Date.now()}@example.org`;
const auth = must(
  await anon.POST("/api/v1/auth/signup", {
    body: { email, password: "Correct-horse-9", firstName: "Type", lastName: "Script" },
  }),
  201,
).data;
const as = (token: string) =>
  createClient<paths>({ baseUrl: base, headers: { Authorization: `Bearer ${token}` } });
const me = as(auth.accessToken);

const entry = must(await me.POST("/api/v1/mood/entries", { body: { mood: 4, note: "from typescript" } }), 201).data;
if (entry.mood !== 4) throw new Error("the mood came back changed");

const coaches = must(await me.GET("/api/v1/practitioners", {}), 200).data;
const coach = coaches.find((p) => p.name === coachName);
if (!coach) throw new Error(`no practitioner named ${coachName}`);
const slots = must(
  await me.GET("/api/v1/practitioners/{id}/slots", { params: { path: { id: coach.id } } }),
  200,
).data;
const booked = must(
  await me.POST("/api/v1/sessions", {
    body: { practitionerId: coach.id, startsAt: slots[0].start, duration: 50 },
  }),
  201,
).data;
const again = must(await me.GET("/api/v1/sessions/{id}", { params: { path: { id: booked.id } } }), 200).data;
if (again.id !== booked.id || again.practitionerId !== coach.id) throw new Error("another session came back");

const pair = must(await anon.POST("/api/v1/auth/refresh", { body: { refreshToken: auth.refreshToken } }), 200).data;
if (pair.refreshToken === auth.refreshToken) throw new Error("the refresh token did not rotate");
const renewed = must(await as(pair.accessToken).GET("/api/v1/auth/me", {}), 200).data;
if (renewed.email !== email) throw new Error("the new pair is someone else's");
const spent = await anon.POST("/api/v1/auth/refresh", { body: { refreshToken: auth.refreshToken } });
if (spent.response.status !== 401) throw new Error(`a spent refresh token answered ${spent.response.status}`);
console.log("typescript flow: signed up, logged a mood, booked and read a session, refreshed");
