'use strict'
// Ctrl-C (and SIGTERM) while waiting for a lock: the wait stops promptly, nothing is taken,
// exit 130.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { STORES, run, runJson } = require('./helpers.js')

for (const store of STORES) {
  describe(`signals on ${store.name}`, { skip: store.skip }, () => {
    for (const signal of ['SIGINT', 'SIGTERM']) {
      it(`${signal} while waiting exits 130 and takes nothing`, async () => {
        const { env } = await store.fresh()
        const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env })
        let sentAt = 0
        const waiter = await run(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--poll-interval', '30s'], {
          env,
          onStderr: (text, child) => {
            if (!sentAt && text.includes('Still locked at env prod by alice')) {
              sentAt = Date.now()
              child.kill(signal)
            }
          },
        })
        assert.ok(sentAt, 'the waiter said it was waiting')
        assert.equal(waiter.code, 130, waiter.stderr)
        assert.ok(Date.now() - sentAt < 10_000, 'stopped long before the next poll')
        assert.match(waiter.stderr, /error: interrupted\n$/)
        const list = await runJson(['locks', 'list'], { env })
        assert.deepEqual(list.json.map((l) => [l.user, l.id]), [['alice', held.json.id]])
      })
    }
  })
}
