export { BACKEND_NAMES, isBackendName, openBackend, UnknownBackendError } from "./open-backend.js";
export type { BackendName, OpenBackendOptions } from "./open-backend.js";
