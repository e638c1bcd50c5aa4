// llama.cpp's own tools (llama-quantize makes the F32 reference GGUF): the same cached build the
// backend-llamacpp oracle tests use, provided to the tests as `llamaToolsDir`.
export { default } from "../../backend-llamacpp/test/global-setup.ts";
