import { defineSessionSuite } from "./session-suite.js";
import { defineConformanceSuite } from "./suite.js";

defineConformanceSuite("onnx session");
defineSessionSuite("onnx");
