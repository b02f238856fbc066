// The GraphQL client the widgets share: queries over HTTP, subscriptions over graphql-ws
// (graphql-transport-ws), reconnecting forever. After a reconnection, or when a result says
// `extensions.resync` (events may have been missed while Redis was away), each widget's
// `catchUp` runs: it re-reads what it shows.
import { createClient } from "graphql-ws";

export class ApiError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code;
  }
}

function websocketUrl(base) {
  const url = new URL("/graphql", base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

// Closes after which retrying cannot help: the token is refused or expired (4403), the
// connection_init was refused (4400) or the server says so otherwise (4401, 4406, 4409).
const FATAL_CLOSES = new Set([4400, 4401, 4403, 4406, 4409]);

/** onSignedOut(reason): the server will not have this token any more (sign in again). */
export function connect(token, { base = window.location.href, onSignedOut = () => {} } = {}) {
  const catchUps = new Set();
  const client = createClient({
    url: websocketUrl(base),
    connectionParams: { Authorization: `Bearer ${token}` },
    lazy: true,
    retryAttempts: Infinity,
    shouldRetry: (closed) => !FATAL_CLOSES.has(closed?.code),
    keepAlive: 15_000,
    on: {
      connected: (_socket, _payload, wasRetry) => {
        if (wasRetry) catchUps.forEach((catchUp) => catchUp());
      },
      closed: (event) => {
        if (FATAL_CLOSES.has(event?.code)) onSignedOut(event.reason || "signed out");
      },
    },
  });

  async function query(document, variables = {}) {
    const response = await fetch(new URL("/graphql", base), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: document, variables }),
    });
    const body = await response.json();
    if (body.errors?.length) {
      const error = new ApiError(body.errors);
      if (error.code === "UNAUTHENTICATED") onSignedOut(error.message);
      throw error;
    }
    return body.data;
  }

  /** Calls onData(data) for each event; catchUp() after a gap. Returns an unsubscribe. */
  function subscribe(document, variables, onData, catchUp) {
    if (catchUp) catchUps.add(catchUp);
    const dispose = client.subscribe(
      { query: document, variables },
      {
        next: (result) => {
          if (result.extensions?.resync && catchUp) catchUp();
          if (result.data) onData(result.data);
        },
        error: (error) => console.warn("koprogo-graph: subscription ended", error),
        complete: () => {},
      },
    );
    return () => {
      catchUps.delete(catchUp);
      dispose();
    };
  }

  /** Fetch a file the API serves behind the token (an export) and hand it to the browser. */
  async function download(path, params, filename) {
    const url = new URL(path, base);
    for (const [name, value] of Object.entries(params)) {
      if (value != null) url.searchParams.set(name, value);
    }
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.error || response.statusText);
    }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = filename;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  return { query, subscribe, download, close: () => client.dispose() };
}
