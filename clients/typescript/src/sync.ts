import type { HavenClient } from "./client.js";
import { HavenError } from "./errors.js";
import type { components } from "./schema.js";

export type Change = components["schemas"]["Change"];
export type SyncResult = components["schemas"]["SyncResult"];
export type SyncRow = components["schemas"]["SyncRow"];

/** What the queue keeps between launches: the changes not yet acknowledged and the cursor. */
export interface SyncState {
  pending: Change[];
  cursor?: string;
}

/** Where the queue keeps its state: AsyncStorage, localStorage, a file — anything durable. */
export interface SyncStore {
  load(): Promise<SyncState | undefined>;
  save(state: SyncState): Promise<void>;
}

/** A store in memory (tests, or an app that keeps its own). */
export class MemoryStore implements SyncStore {
  private state: SyncState | undefined;
  async load(): Promise<SyncState | undefined> {
    return this.state && structuredClone(this.state);
  }
  async save(state: SyncState): Promise<void> {
    this.state = structuredClone(state);
  }
}

/** The most changes one `/wellness/sync` takes. */
const BATCH = 500;

/**
 * The daily wellness logs offline: `record` keeps each change (with a `clientToken` made once,
 * so a change sent twice is applied once) in the store at once; `flush` sends what is pending
 * through `/wellness/sync` when the network allows and brings back what changed elsewhere.
 * A change leaves the queue only when the server acknowledged it.
 */
export class WellnessSync {
  private state: SyncState | undefined;

  constructor(
    private readonly client: HavenClient,
    private readonly store: SyncStore = new MemoryStore(),
  ) {}

  private async current(): Promise<SyncState> {
    this.state ??= (await this.store.load()) ?? { pending: [] };
    return this.state;
  }

  /** Queues a change (an upsert of a day's score, or a delete) and keeps it durable. */
  async record(change: Omit<Change, "clientToken" | "recordedAt">): Promise<Change> {
    const state = await this.current();
    const queued: Change = { ...change, clientToken: globalThis.crypto.randomUUID(), recordedAt: new Date().toISOString() };
    state.pending.push(queued);
    await this.store.save(state);
    return queued;
  }

  /** Changes waiting for the server. */
  async pending(): Promise<Change[]> {
    return [...(await this.current()).pending];
  }

  /**
   * Sends the pending changes (in batches of 500) and pulls what changed since the last sync.
   * Throws (keeping the queue) when the server cannot be reached or refuses the batch.
   */
  async flush(): Promise<SyncRow[]> {
    const state = await this.current();
    const rows: SyncRow[] = [];
    do {
      const batch = state.pending.slice(0, BATCH);
      const r = await this.client.api.POST("/api/v1/wellness/sync", {
        body: { changes: batch, since: state.cursor ?? null },
      });
      if (!r.response.ok || !r.data) throw HavenError.of(r.response.status, r.error);
      const result = r.data.data;
      const sent = new Set(batch.map((c) => c.clientToken));
      state.pending = state.pending.filter((c) => !sent.has(c.clientToken));
      state.cursor = result.cursor;
      await this.store.save(state);
      rows.push(...result.changes);
    } while (state.pending.length > 0);
    return rows;
  }
}
