'use strict'
// A `node --test` reporter beside the usual one: collects the tests and suites skipped because
// they cannot run on this machine (their skip reason says why and what would enable them), and
// writes them as one JSON document, which scripts/test.js prints at the end of the run.
const path = require('node:path')

module.exports = async function* notRunReporter(source) {
  const skipped = []
  for await (const event of source) {
    if (event.type !== 'test:pass') continue
    const { name, file, skip, details } = event.data
    if (!skip) continue
    skipped.push({
      file: file ? path.basename(file) : 'unknown file',
      name,
      suite: details?.type === 'suite',
      reason: typeof skip === 'string' ? skip : 'no reason given',
    })
  }
  yield `${JSON.stringify(skipped)}\n`
}
