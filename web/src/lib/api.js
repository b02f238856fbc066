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

export function connect(token, base = window.location.href) {
  const catchUps = new Set();
  const client = createClient({
    url: websocketUrl(base),
    connectionParams: { Authorization: `Bearer ${token}` },
    lazy: true,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    keepAlive: 15_000,
    on: {
      connected: (_socket, _payload, wasRetry) => {
        if (wasRetry) catchUps.forEach((catchUp) => catchUp());
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
    if (body.errors?.length) throw new ApiError(body.errors);
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

  return { query, subscribe, close: () => client.dispose() };
}
