export { exportGgufToOnnx, exportDir, defaultCacheDir, readExportInfo, EXPORT_FORMAT_VERSION } from "./export.js";
export type { ExportOptions, ExportProgress, ExportResult, EmosteerExportInfo } from "./export.js";
export { GRAPH_IO, GRAPH_OPS, PRECISIONS } from "./decoder-graph.js";
export type { GraphOps, Precision } from "./decoder-graph.js";
export { ARCHITECTURES, SUPPORTED_ARCHITECTURES } from "./architecture.js";
export { NUMERICS, NUMERICS_MODES, llamaCppMatmulInput } from "./numerics.js";
export type { Numerics, NumericsFacts, ActivationRounding } from "./numerics.js";
export type { ArchitectureFacts } from "./architecture.js";
// The protobuf graph writer, for other graphs the project builds (eval's MiniLM sentence encoder).
export { GraphBuilder, MS_DOMAIN } from "./graph-builder.js";
export type { ElementType, Dim, AttributeValue } from "./graph-builder.js";
