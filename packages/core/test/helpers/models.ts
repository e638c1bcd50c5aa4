// @emosteer/models depends on @emosteer/core, so core cannot list it as a (dev) dependency without
// a package cycle (turbo refuses to build one). Core's tests reach its sources directly instead.
export { ensureModel } from "../../../models/src/index.js";
