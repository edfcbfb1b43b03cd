// Runs the official Durable Streams conformance suite (@durable-streams/server-conformance-tests)
// against the server whose base URL is in DS_BASE_URL. Driven by run_conformance.mjs.
import { runConformanceTests } from "@durable-streams/server-conformance-tests"

const baseUrl = process.env.DS_BASE_URL
if (!baseUrl) throw new Error("DS_BASE_URL is not set")
runConformanceTests({
  baseUrl,
  longPollTimeoutMs: Number(process.env.DS_LONG_POLL_MS ?? 20000),
  // The optional "Reserved subscription APIs" group (run_conformance.mjs --subscriptions).
  subscriptions: process.env.DS_SUBSCRIPTIONS === "1",
})
