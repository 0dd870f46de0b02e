// Verifies webhook requests with the official standardwebhooks npm package, independently of the Go code
// that signed them. Usage: node verify.mjs cases.json
// cases.json: [{"secret": "whsec_...", "headers": {"webhook-id": ..., ...}, "body": "<exact body>"}]
// Prints one JSON array of {"ok": bool, "error"?: string} and exits 0; anything else is a harness failure.
import { readFileSync } from "node:fs";
import standardwebhooks from "standardwebhooks";

const { Webhook } = standardwebhooks;
const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = cases.map(({ secret, headers, body }) => {
  try {
    new Webhook(secret).verify(body, headers);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: String(err && err.message ? err.message : err) };
  }
});
process.stdout.write(JSON.stringify(results));
