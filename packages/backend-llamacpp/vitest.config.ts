import { defineEmosteerProject } from "../../vitest.shared.ts";

export default defineEmosteerProject("backend-llamacpp", { globalSetup: ["./test/global-setup.ts"] });
