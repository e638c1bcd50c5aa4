import { defineEmosteerProject } from "../../vitest.shared.ts";

export default defineEmosteerProject("conformance");
