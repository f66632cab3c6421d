'use strict'
// The soak, smaller: 16 processes take one env's lock through the Node API over and over and
// read-modify-write a counter file under it (`npm run soak` runs 10,000 acquisitions a store).
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { STORES, baseEnv } = require('./helpers.js')
const { soak } = require('../scripts/soak.js')

const ACQUISITIONS = 160

for (const store of STORES) {
  describe(`soak on ${store.name}`, { skip: store.skip }, () => {
    it(`16 processes, ${ACQUISITIONS} acquisitions: every increment counted, no critical section overlaps`, { timeout: 300_000 }, async () => {
      const { env, options } = await store.fresh()
      const result = await soak({ options, env: { ...baseEnv(), ...env }, processes: 16, acquisitions: ACQUISITIONS, pollInterval: '20ms' })
      assert.deepEqual(result.failures, [])
      assert.deepEqual(result.violations, [])
      assert.equal(result.counted, ACQUISITIONS)
    })
  })
}
