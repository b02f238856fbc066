"""The GraphQL server: the schema built from the resolvers, its HTTP and websocket view, limits,
error codes and the shared live streams."""
