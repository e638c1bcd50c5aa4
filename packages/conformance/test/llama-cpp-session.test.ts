import { defineSessionSuite } from "./session-suite.js";
import { defineConformanceSuite } from "./suite.js";

defineConformanceSuite("llama.cpp session");
defineSessionSuite("llama.cpp");
