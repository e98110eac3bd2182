export { HavenClient, retryAfter } from "./client.js";
export type { AuthResult, HavenClientOptions, Tokens } from "./client.js";
export { HavenError, unwrap } from "./errors.js";
export type { ErrorCode, FieldError } from "./errors.js";
export { MemoryStore, WellnessSync } from "./sync.js";
export type { Change, SyncResult, SyncRow, SyncState, SyncStore } from "./sync.js";
export { connectRealtime } from "./realtime.js";
export type { RealtimeOptions } from "./realtime.js";
export type { components, paths } from "./schema.js";
