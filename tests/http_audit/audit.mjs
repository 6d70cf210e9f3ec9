// GraphQL-over-HTTP audit of the konvsync sandbox, with graphql-http's auditServer.
//   cd tests/http_audit && npm install && node audit.mjs http://127.0.0.1:8765
// Gets a token from the sandbox (default credentials), runs every audit with
// it, prints each result and exits 1 if any MUST audit fails.
import { auditServer } from 'graphql-http';

const base = process.argv[2] ?? 'http://127.0.0.1:8765';
const key = process.env.KONVERT_API_KEY ?? 'sandbox-key';
const secret = process.env.KONVERT_API_SECRET ?? 'sandbox-secret-not-for-production';

const tokenResponse = await fetch(`${base}/oauth/token`, {
  method: 'POST',
  headers: {
    Authorization: 'Basic ' + Buffer.from(`${key}:${secret}`).toString('base64'),
    'Content-Type': 'application/x-www-form-urlencoded',
  },
  body: 'grant_type=client_credentials',
});
const { access_token: token } = await tokenResponse.json();

const authorizedFetch = (input, init = {}) => {
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  headers.set('Authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url: `${base}/api`, fetchFn: authorizedFetch });
let mustFailures = 0;
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] += 1;
  const level = result.name.split(' ')[0];
  if (result.status !== 'ok') {
    if (level === 'MUST' && result.status === 'error') mustFailures += 1;
    console.log(`${result.status.toUpperCase()} ${result.name}: ${result.reason}`);
  }
}
const must = results.filter((r) => r.name.startsWith('MUST'));
console.log(`graphql-http audit: ${results.length} audits, ${counts.ok} ok, ${counts.notice} notices, ` +
  `${counts.warn} warnings, ` +
  `${counts.error} errors; MUST: ${must.length - mustFailures}/${must.length} passed`);
process.exit(mustFailures ? 1 : 0);
