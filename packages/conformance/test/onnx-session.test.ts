import { defineConformanceSuite } from "./suite.js";

defineConformanceSuite("onnx session");
