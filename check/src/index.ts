export { commands } from './commands.js';
export { checkRoot, type CheckOptions } from './run.js';
export { hostsFromFleet, hostsFromHtpasswd, DEFAULT_THRESHOLDS, type EnrolledHost, type Thresholds } from './hosts.js';
export { PROBLEM_CODES, type CheckReport, type HostReport, type Problem, type ProblemCode } from './report.js';
