'use strict'
// Many processes at once on one env: exactly one holder, on each store.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { STORES, run, runJson } = require('./helpers.js')

const PROCESSES = 12

for (const store of STORES) {
  describe(`concurrency on ${store.name}`, { skip: store.skip }, () => {
    it(`${PROCESSES} processes lock one env at once: exactly one gets it`, async () => {
      const { env } = await store.fresh()
      const results = await Promise.all(
        Array.from({ length: PROCESSES }, (_, i) =>
          runJson(['locks', 'lock', '--env', 'production', '--user', `runner-${i}`, '--no-wait'], { env }),
        ),
      )
      const winners = results.filter((r) => r.code === 0)
      assert.equal(winners.length, 1, results.map((r) => `${r.code} ${r.stderr}`).join('\n'))
      const losers = results.filter((r) => r.code !== 0)
      for (const loser of losers) {
        assert.equal(loser.code, 3, loser.stderr)
        assert.equal(loser.json.error.code, 'LOCK_BUSY')
        assert.match(loser.json.error.message, new RegExp(`^production is locked by ${winners[0].json.user} until `))
      }
      const list = await runJson(['locks', 'list'], { env })
      assert.deepEqual(list.json.map((l) => [l.user, l.id]), [[winners[0].json.user, winners[0].json.id]])
    })

    it(`${PROCESSES} waiting processes take turns: each holds the lock alone, tokens increase`, async () => {
      const { env } = await store.fresh()
      // Each process takes the lock (waiting), then releases it; the history of grants must be
      // a strict sequence: no fencing token granted twice, every process served.
      const results = await Promise.all(
        Array.from({ length: PROCESSES }, async (_, i) => {
          const user = `runner-${i}`
          const got = await runJson(['locks', 'lock', '--env', 'queue', '--user', user, '--poll-interval', '100ms', '--timeout', '60s'], { env })
          const released = await runJson(['locks', 'release', '--env', 'queue', '--user', user], { env })
          return { got, released }
        }),
      )
      for (const { got, released } of results) {
        assert.equal(got.code, 0, got.stderr)
        assert.equal(got.json.outcome, 'acquired')
        assert.equal(released.json.released, true, `${got.json.user} still held the lock when releasing it`)
      }
      // In the order the lock was taken, each token above the one before.
      const taken = results.map((r) => r.got.json).sort((a, b) => a.createdAt - b.createdAt)
      assert.equal(new Set(taken.map((l) => l.fencingToken)).size, PROCESSES, 'a token each')
      assert.ok(taken.every((l, n) => n === 0 || l.fencingToken > taken[n - 1].fencingToken), JSON.stringify(taken.map((l) => l.fencingToken)))
      assert.deepEqual((await run(['locks', 'list', '--json'], { env })).stdout.trim(), '[]')
    })
  })
}
