#!/usr/bin/env bash
# Drift detection, end to end, on a local sandbox:
#   1. start a sandbox and apply this directory's configuration;
#   2. change the portal behind konvsync's back, through the API, as a person
#      in the portal UI would (rename the account, add a group);
#   3. run the nightly check: `konvsync drift` reports what changed in the
#      portal and exits 2 (`konvsync drift --write` would accept it into the
#      YAML; `konvsync apply` would revert it).
# Run from anywhere: bash examples/drift/drift.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
port="${KONVSYNC_DRIFT_PORT:-8799}"
url="http://127.0.0.1:${port}"
export KONVERT_API_KEY=sandbox-key KONVERT_API_SECRET=sandbox-secret-not-for-production

konvsync sandbox --port "$port" --db "$work/portal.db" 2>"$work/sandbox.log" &
sandbox_pid=$!
trap 'kill "$sandbox_pid" 2>/dev/null; rm -rf "$work"' EXIT
# Ready when it says it serves (after it bound the port), never on an answer
# from the port alone: that could be another server already running there.
for _ in $(seq 100); do
  if grep -q "^Press Ctrl-C to stop" "$work/sandbox.log"; then break; fi
  if ! kill -0 "$sandbox_pid" 2>/dev/null; then
    cat "$work/sandbox.log" >&2
    exit 1
  fi
  sleep 0.1
done
grep -q "^Press Ctrl-C to stop" "$work/sandbox.log" || { echo "the sandbox did not start" >&2; exit 1; }

echo "== 1. apply the configuration"
konvsync --endpoint "$url" apply "$here" --auto-approve

echo "== 2. someone edits the portal by hand"
python3 - "$url" <<'PY'
import base64, json, sys, urllib.request
url = sys.argv[1]
basic = base64.b64encode(b"sandbox-key:sandbox-secret-not-for-production").decode()
request = urllib.request.Request(url + "/oauth/token", data=b"grant_type=client_credentials",
    headers={"Authorization": "Basic " + basic,
             "Content-Type": "application/x-www-form-urlencoded"})
token = json.load(urllib.request.urlopen(request))["access_token"]

def gql(query, variables=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(url + "/api", data=body, headers={
        "Authorization": "Bearer " + token, "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))

account = gql('{ account(externalId: "acme") { id } }')["data"]["account"]["id"]
gql('mutation($id: ID!) { updateAccount(id: $id, input: {name: "ACME (renamed by hand)"}) { id } }',
    {"id": account})
gql('mutation { createGroup(input: {externalId: "shadow-it", name: "Shadow IT"}) { id } }')
print("renamed account acme and created group shadow-it through the API")
PY

echo "== 3. the nightly drift check"
set +e
konvsync --endpoint "$url" drift "$here"
code=$?
set -e
echo "konvsync drift exited $code (2 = drift found)"
[ "$code" -eq 2 ]
