'use strict'
// `npm run bench -- --only handover`: the hand-over at default settings (no --poll-interval).
// Waiters of `locks run` sit in one env's line behind a holder; while they wait, the store's
// requests are counted over a quiet window (DynamoDB, through a request-counting proxy), per
// waiter-minute. Then the holder releases and each waiter holds the lock a moment in turn: the
// hand-over is the time from a release (the holder's `locks release` starting, then each
// command's end) to the next waiter's command starting.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { runProcess, median, percentile, round, fmtMs, printTable } = require('./lib.js')
const { cliOk, untilInLine } = require('./queue.js')

const NODE = process.execPath
const BIN = path.join(__dirname, '..', 'bin', 'daplaya.js')

/** Records its start and end (epoch ms), holding `hold` ms between. */
const COMMAND = `const fs = require('node:fs')
const [file, user, hold] = process.argv.slice(1)
const started = Date.now()
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(hold))
fs.appendFileSync(file, JSON.stringify({ user, started, ended: Date.now() }) + '\\n')
`

const READS = new Set(['GetItem', 'Query', 'BatchGetItem'])

/**
 * @param {{ waiters: number, holdMs: number, quietMs: number }} settings
 * @param {{ name: string, env: object, requests?: () => { operation: string }[] }[]} stores
 *   `requests`: the store's requests so far (DynamoDB's proxy log); none for the embedded store
 */
async function benchHandover(settings, stores, log) {
  const { waiters, holdMs, quietMs } = settings
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'daplaya-bench-handover-'))
  const rows = []
  try {
    for (const store of stores) {
      log(`handover: ${waiters} waiters at default settings on the ${store.name} store`)
      const name = `handover-${store.name}`
      const file = path.join(tmp, `${store.name}.jsonl`)
      await cliOk(['locks', 'lock', '--env', name, '--user', 'holder@example.com'], store.env)
      const runs = []
      for (let place = 1; place <= waiters; place += 1) {
        const user = `waiter${place}@example.com`
        runs.push(runProcess(NODE, [BIN, 'locks', 'run', '--env', name, '--user', user, '--', NODE, '-e', COMMAND, file, user, String(holdMs)], { env: store.env, timeoutMs: 300_000 }))
        await untilInLine(store.env, name, place)
      }
      let perWaiterMinute = null
      if (store.requests) {
        const from = store.requests().length
        await new Promise((resolve) => setTimeout(resolve, quietMs))
        const seen = store.requests().slice(from)
        const minutes = (quietMs / 60_000) * waiters
        const reads = seen.filter((entry) => READS.has(entry.operation)).length
        perWaiterMinute = { reads: round(reads / minutes, 1), writes: round((seen.length - reads) / minutes, 1) }
      }
      const released = Date.now()
      await cliOk(['locks', 'release', '--env', name, '--user', 'holder@example.com'], store.env)
      for (const result of await Promise.all(runs)) {
        if (result.code !== 0) throw new Error(`a waiter exited ${result.code ?? result.signal}: ${result.stderr.trim()}`)
      }
      const served = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line))
      const handovers = served.map((s, i) => s.started - (i === 0 ? released : served[i - 1].ended))
      rows.push({
        store: store.name,
        waiters,
        holdMs,
        handoversMs: handovers,
        p50HandoverMs: round(median(handovers)),
        p90HandoverMs: round(percentile(handovers, 90)),
        perWaiterMinute,
      })
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  return {
    note: 'hand-over: from a release (the holder\'s `locks release` starting, then each command\'s end) to the next command\'s start, default poll interval; requests per waiter-minute counted while the line waited',
    rows,
  }
}

function printHandover(handover) {
  const rows = handover.rows.map((row) => [
    row.store,
    fmtMs(row.p50HandoverMs),
    fmtMs(row.p90HandoverMs),
    row.perWaiterMinute ? `${row.perWaiterMinute.reads}` : 'not counted (local file)',
    row.perWaiterMinute ? `${row.perWaiterMinute.writes}` : '-',
  ])
  const [first] = handover.rows
  printTable(
    `7b. Hand-over at default settings: ${first.waiters} waiters, each holding ${first.holdMs} ms`,
    ['store', 'hand-over p50', 'p90', 'reads / waiter-minute', 'writes / waiter-minute'],
    rows,
  )
  process.stdout.write(`   ${handover.note}\n`)
}

module.exports = { benchHandover, printHandover }
