"""SQL, one module per aggregate. Every tenant query filters by organization explicitly, and
row-level security backs it up."""
