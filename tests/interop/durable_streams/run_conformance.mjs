// Runs the official Durable Streams conformance suite against a server process and reports
// the pass count.
//
//   node run_conformance.mjs <node dir> <expect: all|report> [--subscriptions] [--expect-passed N]
//                            <server command...|reference>
//
// --subscriptions runs the suite's optional "Reserved subscription APIs" group too
// (runConformanceTests({subscriptions: true})); --expect-passed N also fails the run unless
// exactly N tests passed (a suite upgrade that adds or drops tests is noticed).
// <node dir> holds node_modules with the pinned packages (tests/interop/setup_node.sh).
// The server command must print "listening on <base url>" on stdout; it is stopped (stdin
// closed, then SIGTERM) when the suite ends. Prints "conformance: P of T passed, F failed, S
// skipped" and, when nothing failed, "conformance: every test that ran passed"; with `all` it
// exits non-zero if any test failed.
import { spawn } from "node:child_process"
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const [nodeDir, expect, ...rest] = process.argv.slice(2)
let subscriptions = false
let expectPassed = null
while (rest.length > 0 && rest[0].startsWith("--")) {
  const flag = rest.shift()
  if (flag === "--subscriptions") subscriptions = true
  else if (flag === "--expect-passed") expectPassed = Number(rest.shift())
  else {
    console.error(`run_conformance.mjs: unknown option ${flag}`)
    process.exit(2)
  }
}
const command = rest
if (!nodeDir || !expect || command.length === 0) {
  console.error("usage: run_conformance.mjs <node dir> <all|report> <server command...>")
  process.exit(2)
}
const here = dirname(fileURLToPath(import.meta.url))
const work = join(nodeDir, "ds-conformance")
mkdirSync(work, { recursive: true })
copyFileSync(join(here, "conformance.test.mjs"), join(work, "conformance.test.mjs"))

// "reference" runs the Node reference server (@durable-streams/server) from <node dir>.
if (command[0] === "reference") {
  copyFileSync(join(here, "reference_server.mjs"), join(work, "reference_server.mjs"))
  command.splice(0, 1, process.execPath, join(work, "reference_server.mjs"))
}
const server = spawn(command[0], command.slice(1), { stdio: ["pipe", "pipe", "inherit"] })
const baseUrl = await new Promise((resolve, reject) => {
  let out = ""
  const timer = setTimeout(() => reject(new Error("server did not start in 30 s")), 30000)
  server.stdout.on("data", (chunk) => {
    out += chunk
    const m = out.match(/listening on (http:\/\/[^\s]+)/)
    if (m) {
      clearTimeout(timer)
      resolve(m[1].replace(/\/$/, ""))
    }
  })
  server.on("exit", (code) => reject(new Error(`server exited with ${code} before listening`)))
})
server.stdout.resume()
console.log(`conformance: server at ${baseUrl}`)

const report = join(work, "report.json")
const vitest = join(nodeDir, "node_modules", "vitest", "vitest.mjs")
const code = await new Promise((resolve) => {
  // vitest gives a test 5 s unless the test sets its own limit. Against strata's server
  // (`all`), moving the suite's large payloads took longer than that once, in a CI run whose
  // dev tests shared the two cores with a build: there 30 s keeps a hung test a failure
  // without failing a loaded machine. A `report` run keeps 5 s: the reference server leaves
  // some tests hanging until the limit, and they fail either way.
  const limit = expect === "all" ? ["--testTimeout=30000"] : []
  const child = spawn(process.execPath, [vitest, "run", "--root", work, "--reporter=dot", ...limit,
    "--reporter=json", `--outputFile.json=${report}`, "conformance.test.mjs"],
    { stdio: "inherit", env: { ...process.env, DS_BASE_URL: baseUrl, DS_SUBSCRIPTIONS: subscriptions ? "1" : "0" } })
  child.on("exit", (c) => resolve(c ?? 1))
})
// Stop the server: close its stdin (it exits on EOF when asked to), then SIGTERM after 5 s.
await new Promise((resolve) => {
  if (server.exitCode !== null || server.signalCode !== null) return resolve()
  const timer = setTimeout(() => server.kill("SIGTERM"), 5000)
  server.once("exit", () => { clearTimeout(timer); resolve() })
  server.stdin.end()
})

let passed = 0, skipped = 0, total = 0
const failed = []
try {
  const json = JSON.parse(readFileSync(report, "utf8"))
  for (const file of json.testResults) {
    for (const t of file.assertionResults) {
      total++
      if (t.status === "passed") passed++
      else if (t.status === "skipped" || t.status === "pending" || t.status === "todo") skipped++
      else failed.push(`${t.status}: ${t.fullName}`)
    }
  }
} catch (e) {
  console.error(`conformance: no report (${e.message})`)
  process.exit(1)
}
writeFileSync(join(work, "failed.txt"), failed.join("\n") + "\n")
for (const f of failed) console.log(`  ${f}`)
console.log(`conformance: ${passed} of ${total} passed, ${failed.length} failed, ${skipped} skipped ` +
  `(subscription tests ${subscriptions ? "included" : "skipped: not asked for"}) (vitest exit ${code})`)
const countOk = expectPassed === null || passed === expectPassed
if (!countOk) console.log(`conformance: expected exactly ${expectPassed} passed, got ${passed}`)
if (failed.length === 0 && passed > 0 && countOk) console.log(`conformance: every test that ran passed (${passed})`)
if (expect === "all" && (failed.length > 0 || passed === 0 || !countOk)) process.exit(1)
process.exit(0)
