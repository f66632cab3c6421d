'use strict'
// The action's post step: runs when the job ends, also after a failed step or a cancellation
// (`post-if: always()`), and releases what the main step took. When main took nothing (it failed
// or was cancelled while waiting), there is nothing to release and nobody else's lock is touched.
const { StepFailure, runCli, failureLine, step } = require('./runner.js')

step(async () => {
  const envs = JSON.parse(process.env.STATE_envs || '[]')
  const user = process.env.STATE_user
  if (envs.length === 0 || !user) {
    process.stdout.write('daplaya: no lock was taken; nothing to release\n')
    return
  }
  // Every env in one release, as they were taken: all at once.
  const result = await runCli(['locks', 'release', ...envs.flatMap((env) => ['--env', env]), '--user', user])
  if (result.code !== 0) throw new StepFailure(failureLine(result))
  const documents = [result.document].flat()
  envs.forEach((env, i) => {
    const released = documents[i]
    if (released.released) process.stdout.write(`daplaya: released ${env} (lock ${released.lock.id})\n`)
    else process.stdout.write(`daplaya: nothing to release on ${env} (${released.reason})\n`)
  })
})
