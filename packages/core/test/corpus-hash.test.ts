import { describe, expect, it } from "vitest";
import { canonicalJson, corpusHash, sha256Hex } from "../src/index.js";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("sha256Hex", () => {
  it("matches the FIPS 180-4 test vectors", () => {
    expect(sha256Hex(bytes(""))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex(bytes("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // 56 bytes: the padding spills into a second block.
    expect(sha256Hex(bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
    expect(sha256Hex(bytes("a".repeat(1000)))).toBe("41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  });
});

describe("corpusHash", () => {
  it("is 16 hex digits of the sha256 of the canonical JSON, independent of key order", () => {
    const a = { version: 1, items: [{ queryId: "q1", neutral: "Fine.", emotional: { joy: "Great!", fear: "Oh no." } }] };
    const b = { items: [{ emotional: { fear: "Oh no.", joy: "Great!" }, neutral: "Fine.", queryId: "q1" }], version: 1 };
    expect(canonicalJson(b)).toBe(
      '{"items":[{"emotional":{"fear":"Oh no.","joy":"Great!"},"neutral":"Fine.","queryId":"q1"}],"version":1}',
    );
    expect(corpusHash(a)).toBe(corpusHash(b));
    expect(corpusHash(a)).toBe(sha256Hex(bytes(canonicalJson(a))).slice(0, 16));
    expect(corpusHash(a)).toMatch(/^[0-9a-f]{16}$/);
    expect(corpusHash({ ...a, version: 2 })).not.toBe(corpusHash(a));
  });
});
