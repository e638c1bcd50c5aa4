import { defineEmosteerProject } from "../../vitest.shared.ts";

export default defineEmosteerProject("backend-transformers", { globalSetup: ["./test/global-setup.ts"] });
