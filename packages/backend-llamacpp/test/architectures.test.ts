// The tested set and the warning for steerable architectures that only code reading supports.
import { describe, expect, it, vi } from "vitest";
import { architectureSupport, TESTED_ARCHITECTURES } from "../src/index.js";

describe("architectureSupport", () => {
  it("marks the registry's architectures tested, warns once for an untested steerable one, and not for the rest", () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      for (const architecture of ["llama", "qwen2", "gemma3", "phi3", "olmo2", "granite"]) {
        expect(TESTED_ARCHITECTURES.has(architecture)).toBe(true);
        expect(architectureSupport(architecture)).toEqual({ steering: true, capture: true, tested: true });
      }
      expect(warn).not.toHaveBeenCalled();
      expect(architectureSupport("starcoder2")).toEqual({ steering: true, capture: true, tested: false });
      expect(architectureSupport("starcoder2").tested).toBe(false);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toContain('"starcoder2" are untested');
      expect(warn.mock.calls[0]![1]).toMatchObject({ code: "EMOSTEER_UNTESTED_ARCHITECTURE" });
      expect(architectureSupport("minicpm")).toEqual({ steering: false, capture: false, tested: false });
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      warn.mockRestore();
    }
  });
});
