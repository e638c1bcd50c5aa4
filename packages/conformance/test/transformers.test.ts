import { defineConformanceSuite } from "./suite.js";

defineConformanceSuite("transformers.js");
