// Types of worker-rpc-wire.js, for the TypeScript packages that import @emosteer/core/node without allowJs.
export declare function wireView<T>(value: T, transfer?: Set<ArrayBuffer>): T;
export declare function wireError(error: unknown): { name: string; message: string; stack?: string };
