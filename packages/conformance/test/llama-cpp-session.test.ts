import { defineConformanceSuite } from "./suite.js";

defineConformanceSuite("llama.cpp session");
