'use strict'
// One process of the soak (scripts/soak.js): takes the lock through the Node API `count` times
// and, holding it, read-modify-writes a shared counter file, as awslabs'
// ConsistentLockDataStressTest does. A critical section that finds another's marker, or a
// fencing token not above the last one written, is a violation: it is counted and reported.
const fs = require('node:fs')
const path = require('node:path')
const { lock, release } = require(path.join(__dirname, '..'))

async function main() {
  const { options, env, user, count, dir, pollInterval } = JSON.parse(process.argv[2])
  const marker = path.join(dir, 'marker')
  const counter = path.join(dir, 'counter')
  const violations = []
  for (let i = 0; i < count; i++) {
    const held = await lock({ ...options, env, user, ttl: '10m', timeout: '1h', pollInterval })
    const mine = `${user} ${held.fencingToken}`
    try {
      fs.writeFileSync(marker, mine, { flag: 'wx' })
    } catch (error) {
      if (error.code !== 'EEXIST') throw error
      violations.push(`${mine} found the marker of ${fs.readFileSync(marker, 'utf8')}`)
    }
    const [total, lastToken] = fs.readFileSync(counter, 'utf8').split(' ').map(Number)
    if (held.fencingToken <= lastToken) violations.push(`${mine} after token ${lastToken}`)
    fs.writeFileSync(counter, `${total + 1} ${held.fencingToken}`)
    const seen = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : 'nobody (removed)'
    if (seen !== mine) violations.push(`${mine} saw the marker of ${seen} inside its critical section`)
    else fs.unlinkSync(marker)
    const released = await release({ ...options, env, user })
    if (!released.released) violations.push(`${mine} no longer held the lock at release (${released.reason})`)
  }
  process.stdout.write(JSON.stringify({ violations }))
}

main().catch((error) => {
  process.stderr.write(`${error.code ?? ''} ${error.stack}\n`)
  process.exitCode = 1
})
