import { defineEmosteerProject } from "../../vitest.shared.ts";

export default defineEmosteerProject("engine-parity", { globalSetup: ["./test/global-setup.ts"] });
