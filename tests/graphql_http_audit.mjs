// Runs the graphql-http server audit (GraphQL over HTTP conformance) against a running gateway; prints JSON results.
// Usage: CCGW_AUDIT_TOKEN=<bearer token> node tests/graphql_http_audit.mjs <url of /graphql>
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const token = process.env.CCGW_AUDIT_TOKEN;
if (!url || !token) {
  console.error('usage: CCGW_AUDIT_TOKEN=<token> node tests/graphql_http_audit.mjs <url of /graphql>');
  process.exit(2);
}

// Every /graphql request needs a bearer token: add it to each request the audit makes.
async function fetchWithToken(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: fetchWithToken });
const report = [];
for (const result of results) {
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.responseStatus = result.response.status;
    entry.responseBody = await result.response.text().catch((err) => `(unreadable body: ${err})`);
  }
  report.push(entry);
}
console.log(JSON.stringify(report, null, 2));
