import { defineSessionSuite } from "./session-suite.js";
import { defineConformanceSuite } from "./suite.js";

defineConformanceSuite("transformers.js session");
defineSessionSuite("transformers.js");
