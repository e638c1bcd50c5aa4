export { startServer } from "./server.js";
export type { EmosteerServer, ServerOptions } from "./server.js";
export { ApiError } from "./api-error.js";
export type { OpenAiErrorBody } from "./api-error.js";
export { requestSteering, VECTOR_NAME } from "./request-steering.js";
export type {
  AppliedSteering,
  ExplicitSteering,
  InlineVector,
  SteeringLimits,
  SteeringPhase,
  SteeringRequest,
} from "./request-steering.js";
export { Scheduler } from "./scheduler.js";
export type { SchedulerOptions } from "./scheduler.js";
export type { GenerationSession, GenerationSessionStats } from "@emosteer/core";
