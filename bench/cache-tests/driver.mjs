// driver.mjs runs the HTTP caching test suite (npm http-cache-tests@0.4.5,
// https://cache-tests.fyi) the way kumo's conformance test and
// bench/cache-tests.sh need it. It uses the installed package's own code: its
// origin request handlers, its client runner, its tests and its scorer
// (lib/display.mjs determineTestResult, the one cache-tests.fyi uses).
//
//   node driver.mjs server <pkg-dir> [port]
//       Serves the suite's origin (/config, /test, /state) on 127.0.0.1 only
//       (port 0 or absent = ephemeral) and prints "listening <port>".
//       Unlike the package's server/server.mjs it never binds all interfaces
//       and never serves files from the working directory.
//   node driver.mjs run <pkg-dir> <base-url> <out.json>
//       Runs every test against base-url (the cache under test, which must
//       forward to the origin above), scores the results and writes JSON:
//       {base, counts: {required|optimal|check: {outcome: n}}, tests: [...]}.
//       Prints one summary line.
//
// <pkg-dir> is the installed package (.../node_modules/http-cache-tests).
import http from 'http'
import fs from 'fs'
import path from 'path'
import { createRequire } from 'module'
import { pathToFileURL } from 'url'

const [mode, pkg, ...rest] = process.argv.slice(2)
if (!pkg || !fs.existsSync(path.join(pkg, 'package.json'))) {
  console.error('usage: driver.mjs server <pkg-dir> [port] | run <pkg-dir> <base-url> <out.json>')
  process.exit(2)
}
const load = rel => import(pathToFileURL(path.join(pkg, rel)).href)

async function server (port) {
  const handlers = {}
  for (const name of ['config', 'test', 'state']) {
    handlers[name] = (await load(`server/handle-${name}.mjs`)).default
  }
  const srv = http.createServer((request, response) => {
    const segs = new URL(request.url, 'http://localhost/').pathname.split('/')
    segs.shift()
    const handler = handlers[segs.shift()]
    if (!handler) {
      response.writeHead(404, { 'Content-Type': 'text/plain' })
      response.end('not a cache-tests origin path\n')
      return
    }
    handler(segs, request, response)
  })
  srv.on('error', err => { console.error(`origin: ${err.message}`); process.exit(1) })
  srv.listen(Number(port || 0), '127.0.0.1', () => {
    console.log(`listening ${srv.address().port}`)
  })
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0))
}

// outcomeNames maps the scorer's result symbols to names.
const outcomeNames = {
  '✅': 'pass',
  '⛔️': 'fail',
  '⚠️': 'not_optimal',
  Y: 'yes',
  N: 'no',
  '🔹': 'setup_fail',
  '⁉️': 'harness_fail',
  '⚪️': 'dependency_fail',
  '↻': 'retry',
  '-': 'untested'
}

async function run (base, out) {
  const { runTests, getResults } = await load('client/runner.mjs')
  const display = await load('lib/display.mjs')
  const tests = (await load('tests/index.mjs')).default
  tests.push((await load('tests/surrogate-control.mjs')).default) // as cli.mjs does
  const fetch = createRequire(path.join(pkg, 'package.json'))('node-fetch')
  await runTests(tests, fetch, false, base)
  const results = getResults()
  const counts = { required: {}, optimal: {}, check: {} }
  const list = []
  for (const suite of tests) {
    for (const test of suite.tests) {
      if (test.browser_only === true) continue // runTests skips them too
      const kind = test.kind || 'required'
      const symbol = display.determineTestResult(tests, test.id, results)[2]
      const outcome = outcomeNames[symbol] || `unknown(${symbol})`
      counts[kind][outcome] = (counts[kind][outcome] || 0) + 1
      const raw = results[test.id]
      const detail = Array.isArray(raw) ? raw.join(': ') : ''
      list.push({ id: test.id, suite: suite.id, kind, outcome, name: test.name, detail, depends_on: test.depends_on || [] })
    }
  }
  fs.writeFileSync(out, JSON.stringify({ base, counts, tests: list }, null, 1))
  const c = counts
  console.log(`required pass ${c.required.pass || 0} fail ${c.required.fail || 0}; ` +
    `optimal pass ${c.optimal.pass || 0} not-optimal ${c.optimal.not_optimal || 0}; ` +
    `check yes ${c.check.yes || 0} no ${c.check.no || 0}`)
}

if (mode === 'server') {
  await server(rest[0])
} else if (mode === 'run' && rest.length === 2) {
  await run(rest[0], rest[1])
  // Keep-alive connections to the cache under test (Squid keeps idle
  // client connections for minutes) would otherwise hold the process open.
  process.exit(0)
} else {
  console.error('usage: driver.mjs server <pkg-dir> [port] | run <pkg-dir> <base-url> <out.json>')
  process.exit(2)
}
