// ES module entry: the same functions as index.js.
import daplaya from './index.js'

export const { init, listLocks, lock, release, runLocked, startJob, getJob, endJob, activeJobs, skippedJobs, handleSlackCommand } = daplaya
export default daplaya
