'use strict'
// The action's main step: take the lock (waiting as `locks lock` waits), expose its id and
// fencing token, and leave what the post step needs to release it in the runner's state.
const { StepFailure, input, envsInput, booleanInput, setFileCommand, runCli, failureLine, step } = require('./runner.js')

step(async () => {
  const envs = envsInput()
  if (envs.length === 0) throw new StepFailure('input env is required: the env(s) to lock')
  const args = ['locks', 'lock', ...envs.flatMap((env) => ['--env', env])]
  for (const name of ['user', 'meta', 'ttl', 'timeout']) {
    if (input(name)) args.push(`--${name}`, input(name))
  }
  if (booleanInput('supersede')) args.push('--supersede')
  const result = await runCli(args)
  if (result.code !== 0) throw new StepFailure(failureLine(result))
  // One document for one env, one per env (in order) for several.
  const locks = [result.document].flat()
  const [lock] = locks
  // State first: once the lock is held, the post step must be able to release it.
  setFileCommand('GITHUB_STATE', 'envs', JSON.stringify(locks.map((held) => held.env)))
  setFileCommand('GITHUB_STATE', 'user', lock.user)
  // This run holds it: the post step releases it as this run, and no other run can.
  setFileCommand('GITHUB_STATE', 'holder', lock.holder)
  setFileCommand('GITHUB_OUTPUT', 'lock-id', lock.id)
  setFileCommand('GITHUB_OUTPUT', 'fencing-token', String(lock.fencingToken))
  setFileCommand('GITHUB_OUTPUT', 'fencing-tokens', locks.map((held) => `${held.env}=${held.fencingToken}`).join(','))
  for (const held of locks) {
    process.stdout.write(`daplaya: ${held.outcome} ${held.env} for ${held.user} in run ${held.holder} (lock ${held.id}, fencing token ${held.fencingToken}); released by the post step\n`)
  }
})
