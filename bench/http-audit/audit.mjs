// The GraphQL-over-HTTP audit of graphql-http against a running service:
//   cd bench/http-audit && npm install && node audit.mjs http://127.0.0.1:8000/graphql
// Prints each warning or error, then the counts (2026-12-02: 61 ok, 0 warnings, 0 errors).
import { serverAudits } from 'graphql-http';
const url = process.argv[2];
let ok = 0, warn = 0, err = 0;
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  if (result.status === 'ok') ok++;
  else if (result.status === 'warn') { warn++; console.log('WARN', audit.name, '-', result.reason); }
  else { err++; console.log('ERROR', audit.name, '-', result.reason); }
}
console.log(JSON.stringify({ ok, warn, error: err }));
