export {
  calibrate,
  type CalibrateOptions,
  type CalibrationResult,
  type CalibrationProgress,
  type CalibrationCost,
  type ContrastExample,
  type EvaluatedCandidate,
  type PreselectedWindow,
} from "./calibrate.js";
export { candidateWindows, type CandidateWindow, type CandidateWindowOptions } from "./candidates.js";
export {
  DEFAULT_CONSTRAINTS,
  selectOperatingPoint,
  violations,
  type CalibrationConstraints,
  type CandidatePoint,
  type EvaluatedPoint,
} from "./objective.js";
export { PointCache } from "./point-cache.js";
export { loadCalibrationScorer, type CalibrationScorer } from "./scorer.js";
export { extractionCalibrationData, type CalibrationData } from "./calibration-data.js";
