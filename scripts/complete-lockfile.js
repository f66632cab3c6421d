#!/usr/bin/env node
'use strict'
// Records in package-lock.json the optional packages npm left out because the registry it asked
// had no manifest for them at the pinned version (it drops such optional packages silently, and
// `npm ci` then refuses the lock file everywhere). Each entry gets the version its parent pins
// and the os/cpu/libc/engines/dependencies of that package's newest manifest in the registry;
// no integrity (npm takes the registry's on install). Then `npm install --package-lock-only`
// records whatever those entries depend on.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const lockFile = path.join(root, 'package-lock.json')

function newestManifest(name) {
  try {
    const manifest = JSON.parse(execFileSync('npm', ['view', name, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))
    return Array.isArray(manifest) ? manifest[manifest.length - 1] : manifest
  } catch {
    return null
  }
}

const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8'))
let added = 0
for (const [from, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`
    if (lock.packages[key] || lock.packages[`${from}/${key}`]) continue
    const manifest = newestManifest(name)
    if (!manifest) throw new Error(`the registry knows no ${name} at all`)
    const record = { version, ...(entry.dev && { dev: true }), optional: true }
    for (const field of ['cpu', 'os', 'libc', 'license', 'dependencies', 'engines']) {
      if (manifest[field]) record[field] = manifest[field]
    }
    lock.packages[key] = record
    added += 1
    process.stderr.write(`${name}@${version} (fields from ${manifest.version})\n`)
  }
}
fs.writeFileSync(lockFile, `${JSON.stringify(lock, null, 2)}\n`)
if (added > 0) execFileSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' })
process.stderr.write(`${added} optional package(s) recorded\n`)
