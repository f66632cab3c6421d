'use strict'
// A loopback HTTP proxy in front of DynamoDB Local that records every request's operation
// (the X-Amz-Target header): the test run proves no command Scans, and the benchmark counts
// requests per command. It can also ask DynamoDB for consumed capacity on each request.
const http = require('node:http')

/**
 * @param {string} target DynamoDB endpoint to forward to
 * @param {{ consumedCapacity?: boolean }} options add ReturnConsumedCapacity=TOTAL to requests
 */
function startDynamoDbProxy(target, { consumedCapacity = false } = {}) {
  const upstream = new URL(target)
  const log = []
  const server = http.createServer((request, response) => {
    const chunks = []
    request.on('data', (chunk) => chunks.push(chunk))
    request.on('end', () => {
      let body = Buffer.concat(chunks)
      const operation = String(request.headers['x-amz-target'] || '').split('.').pop() || 'unknown'
      const entry = { operation, capacity: 0 }
      log.push(entry)
      const headers = { ...request.headers, host: upstream.host }
      if (consumedCapacity && body.length) {
        // DynamoDB Local does not check request signatures, so the body may be amended.
        const json = JSON.parse(body.toString('utf8'))
        json.ReturnConsumedCapacity = 'TOTAL'
        body = Buffer.from(JSON.stringify(json))
        headers['content-length'] = String(body.length)
      }
      const forward = http.request(
        { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers },
        (answer) => {
          const parts = []
          answer.on('data', (chunk) => parts.push(chunk))
          answer.on('end', () => {
            const payload = Buffer.concat(parts)
            if (consumedCapacity) entry.capacity = capacityOf(payload)
            response.writeHead(answer.statusCode, answer.headers)
            response.end(payload)
          })
        },
      )
      forward.on('error', () => {
        response.destroy()
      })
      forward.end(body)
    })
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        endpoint: `http://127.0.0.1:${server.address().port}`,
        log,
        stop: () => new Promise((done) => server.close(() => done())),
        closeConnections: () => server.closeAllConnections(),
      })
    })
  })
}

function capacityOf(payload) {
  try {
    const consumed = JSON.parse(payload.toString('utf8')).ConsumedCapacity
    const list = Array.isArray(consumed) ? consumed : consumed ? [consumed] : []
    return list.reduce((sum, c) => sum + (c.CapacityUnits || 0), 0)
  } catch {
    return 0
  }
}

module.exports = { startDynamoDbProxy }
