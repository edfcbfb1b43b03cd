// Starts the Node reference server (@durable-streams/server) on a free port and prints
// "listening on <url>" — used to measure the reference the same way as strata.
import { DurableStreamTestServer } from "@durable-streams/server"

const server = new DurableStreamTestServer({ port: 0, host: "127.0.0.1" })
const url = await server.start()
console.log(`listening on ${url}/`)
process.stdin.resume()
process.stdin.on("end", async () => { await server.stop(); process.exit(0) })
