// ES module entry: the same functions as index.js.
import daplaya from './index.js'

export const { init, listLocks, lock, release, startJob, getJob, endJob, activeJobs, skippedJobs } = daplaya
export default daplaya
