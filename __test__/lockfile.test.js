'use strict'
// `npm ci` refuses a lock file that leaves out any package the tree names, including another
// platform's optional binaries. This checks the same thing offline: every dependency and optional
// dependency of every locked package resolves, as Node would look it up, to a locked package.
const { it } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { ROOT } = require('./helpers.js')

/** The lock key Node's lookup reaches for `name` required from the package at `from`. */
function resolve(packages, from, name) {
  for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
    const key = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`
    if (packages[key]) return key
    if (!dir) return null
  }
}

it('package-lock.json records every package the tree names, on every platform', () => {
  const { packages } = require(path.join(ROOT, 'package-lock.json'))
  const missing = []
  for (const [from, entry] of Object.entries(packages)) {
    const optionalPeers = Object.keys(entry.peerDependenciesMeta ?? {}).filter((name) => entry.peerDependenciesMeta[name].optional)
    const names = new Set(Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies }))
    if (from === '') for (const name of Object.keys(entry.devDependencies ?? {})) names.add(name)
    for (const name of optionalPeers) names.delete(name)
    for (const name of names) {
      if (!resolve(packages, from, name)) missing.push(`${name} (for ${from || 'daplaya'})`)
    }
  }
  assert.deepEqual(missing, [], 'npm ci would refuse this lock file: run node scripts/complete-lockfile.js (docs/development.md)')
})

it("no package at the top of node_modules puts a `node` on npm scripts' PATH", () => {
  // npm links every top-level package's bins into node_modules/.bin, first on the PATH of `npm
  // test`: the Node binaries of runtimes/ stay under runtimes/node_modules (docs/development.md).
  const { packages } = require(path.join(ROOT, 'package-lock.json'))
  const shadowing = Object.entries(packages)
    .filter(([key, entry]) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(key) && ['node', 'bun', 'deno'].some((name) => entry.bin?.[name]))
    .map(([key]) => key)
  assert.deepEqual(shadowing, [], 'record the runtimes with: npm install --install-strategy=shallow (docs/development.md)')
})
