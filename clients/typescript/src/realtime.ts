import { io } from "socket.io-client";
import type { Socket } from "socket.io-client";

import type { HavenClient } from "./client.js";

export interface RealtimeOptions {
  /** `websocket` only by default (long-polling also works: `["polling", "websocket"]`). */
  transports?: string[];
}

/**
 * The Socket.IO connection (`x-socketio` in the document): it presents a fresh access token
 * each time it connects — the first time and after every drop — refreshing first when the one
 * held is about to expire, and when the server refuses a token, it refreshes and tries again.
 */
export function connectRealtime(client: HavenClient, options: RealtimeOptions = {}): Socket {
  const socket = io(client.baseUrl, {
    path: "/socket.io/",
    transports: options.transports ?? ["websocket"],
    auth: (cb: (data: object) => void) => {
      client.freshAccessToken().then(
        (token) => cb({ token }),
        () => cb({}),
      );
    },
  });
  let retried = false;
  socket.on("connect", () => {
    retried = false;
  });
  socket.on("connect_error", (err: Error) => {
    // The server refused the token (expired or revoked): one refresh, then connect again.
    if (!socket.active && !retried && client.signedIn) {
      retried = true;
      client.refresh(client.accessToken).then(
        () => socket.connect(),
        () => undefined,
      );
    }
    void err;
  });
  return socket;
}
