"""Writes one tiny F32 GGUF with seeded random weights in a model family's real layout.

usage: python3 synthetic_gguf.py <gguf-py dir> <llama.cpp models dir> <settings json> <out.gguf>

The settings (one family's row of packages/engine-parity/src/synthetic-families.ts) name the
architecture, sizes, RoPE settings, GQA ratio, tensor layout switches (fused QKV, fused gate-up,
q/k norms, post-norms, biases, multipliers, RoPE factors) and the vocabulary: a llama.cpp
`models/ggml-vocab-*.gguf` whose tokenizer keys are copied as they are, or a small vocabulary cut
from one of them (the first N tokens and the merges among them) when the family's own is not
shipped. Written with gguf-py from the llama.cpp source node-llama-cpp bundles (its own version,
never a PyPI copy), so the file is what llama.cpp's loader expects.

Weights: N(0, 1/sqrt(fan_in)) for projections, so every layer keeps the residual stream at unit
scale; norm weights 1 + N(0, 0.1²); embeddings N(0, 1) scaled so logits have a spread of a few
units (neither flat nor saturated). One numpy Generator seeded from the settings.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np


def main() -> None:
    gguf_py, models_dir, settings_json, out_path = sys.argv[1:5]
    sys.path.insert(0, gguf_py)
    import gguf  # noqa: E402  (the bundled gguf-py, first on the path)

    s = json.loads(settings_json)
    arch = s["architecture"]
    rng = np.random.default_rng(int(s["seed"]))
    hidden = int(s["hidden"])
    heads = int(s["heads"])
    kv_heads = int(s["kvHeads"])
    head_dim = int(s["headDim"])
    ff = int(s["ff"])
    layers = int(s["layers"])

    tokens, kv = load_vocabulary(gguf, Path(models_dir), s["vocab"])
    vocab = len(tokens["tokens"])

    out = Path(out_path)
    tmp = out.with_name(out.name + ".partial")
    w = gguf.GGUFWriter(str(tmp), arch)
    w.add_name(f"synthetic {s['family']} ({arch})")
    w.add_type("model")
    w.add_block_count(layers)
    w.add_context_length(int(s["contextLength"]))
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(float(s["ropeBase"]))
    w.add_layer_norm_rms_eps(float(s.get("rmsEps", 1e-5)))
    w.add_vocab_size(vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    if "originalContextLength" in s:
        w.add_rope_scaling_orig_ctx_len(int(s["originalContextLength"]))
    if "ropeAttnFactor" in s:
        w.add_rope_scaling_attn_factors(float(s["ropeAttnFactor"]))
    if "slidingWindow" in s:
        w.add_sliding_window(int(s["slidingWindow"]))
        if "ropeBaseLocal" in s:
            w.add_key_value(f"{arch}.rope.freq_base_swa", float(s["ropeBaseLocal"]), gguf.GGUFValueType.FLOAT32)
    m = s.get("multipliers")
    if m:
        w.add_embedding_scale(float(m["embedding"]))
        w.add_residual_scale(float(m["residual"]))
        w.add_attention_scale(float(m["attention"]))
        w.add_logit_scale(float(m["logit"]))
    for key, (vtype, sub, value) in kv.items():
        if vtype == gguf.GGUFValueType.ARRAY:
            w.add_key_value(key, value, vtype, sub)
        else:
            w.add_key_value(key, value, vtype)

    f32 = np.float32

    def normal(shape, scale):
        return (rng.standard_normal(shape) * scale).astype(f32)

    def linear(out_f, in_f):
        return normal((out_f, in_f), 1.0 / math.sqrt(in_f))

    def norm(n):
        return (1.0 + rng.standard_normal(n) * 0.1).astype(f32)

    # Logit spread ≈ embedding scale × √hidden for a unit-RMS final state: aim at ~4.
    embd = normal((vocab, hidden), 4.0 / math.sqrt(hidden))
    w.add_tensor("token_embd.weight", embd)
    w.add_tensor("output_norm.weight", norm(hidden))
    if not s["tiedEmbeddings"]:
        w.add_tensor("output.weight", normal((vocab, hidden), 4.0 / math.sqrt(hidden)))
    rope = s.get("ropeFactors")
    if rope:
        for name, values in rope.items():
            w.add_tensor(f"{name}.weight", np.asarray(values, dtype=f32))

    q_out, kv_out = heads * head_dim, kv_heads * head_dim
    for il in range(layers):
        p = f"blk.{il}."
        if s.get("preNorms", True):
            w.add_tensor(p + "attn_norm.weight", norm(hidden))
            w.add_tensor(p + "ffn_norm.weight", norm(hidden))
        if s.get("fusedQkv"):
            w.add_tensor(p + "attn_qkv.weight", linear(q_out + 2 * kv_out, hidden))
        else:
            w.add_tensor(p + "attn_q.weight", linear(q_out, hidden))
            w.add_tensor(p + "attn_k.weight", linear(kv_out, hidden))
            w.add_tensor(p + "attn_v.weight", linear(kv_out, hidden))
        if s.get("qkvBias"):
            w.add_tensor(p + "attn_q.bias", normal(q_out, 0.5))
            w.add_tensor(p + "attn_k.bias", normal(kv_out, 0.5))
            w.add_tensor(p + "attn_v.bias", normal(kv_out, 0.5))
        qk_norm = s.get("qkNorm")
        if qk_norm == "per-head":
            w.add_tensor(p + "attn_q_norm.weight", norm(head_dim))
            w.add_tensor(p + "attn_k_norm.weight", norm(head_dim))
        elif qk_norm == "whole":
            w.add_tensor(p + "attn_q_norm.weight", norm(q_out))
            w.add_tensor(p + "attn_k_norm.weight", norm(kv_out))
        w.add_tensor(p + "attn_output.weight", linear(hidden, q_out))
        if s.get("postNorms"):
            w.add_tensor(p + "post_attention_norm.weight", norm(hidden))
            w.add_tensor(p + "post_ffw_norm.weight", norm(hidden))
        if s.get("fusedGateUp"):
            w.add_tensor(p + "ffn_up.weight", linear(2 * ff, hidden))
        else:
            w.add_tensor(p + "ffn_gate.weight", linear(ff, hidden))
            w.add_tensor(p + "ffn_up.weight", linear(ff, hidden))
        w.add_tensor(p + "ffn_down.weight", linear(hidden, ff))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)
    print(json.dumps({"path": str(out), "vocab": vocab}))


TOKENIZER_PREFIX = "tokenizer."


def load_vocabulary(gguf, models_dir: Path, spec):
    """Tokenizer keys from a llama.cpp vocabulary file, whole or cut to the first `size` tokens."""
    reader = gguf.GGUFReader(str(models_dir / f"ggml-vocab-{spec['file']}.gguf"))
    kv = {}
    for key, field in reader.fields.items():
        if not key.startswith(TOKENIZER_PREFIX):
            continue
        vtype = field.types[0]
        sub = field.types[1] if len(field.types) > 1 else None
        kv[key] = (vtype, sub, field.contents())
    size = spec.get("size")
    if size:
        kv = cut_vocabulary(gguf, kv, int(size))
    if "pre" in spec:
        kv["tokenizer.ggml.pre"] = (gguf.GGUFValueType.STRING, None, spec["pre"])
    return {"tokens": kv["tokenizer.ggml.tokens"][2]}, kv


def cut_vocabulary(gguf, kv, size: int):
    """
    The first `size` tokens (byte tokens and the best-ranked pieces come first in both gpt2 and
    SentencePiece vocabularies), the merges whose parts and result all stay, and one end-of-text
    control token appended (the special-token ids the file named are remapped to it).
    """
    T = gguf.GGUFValueType
    tokens = list(kv["tokenizer.ggml.tokens"][2][:size])
    types = list(kv["tokenizer.ggml.token_type"][2][:size])
    out = {k: v for k, v in kv.items() if not k.startswith("tokenizer.ggml.") or k == "tokenizer.ggml.model" or k == "tokenizer.ggml.pre"}
    model = kv["tokenizer.ggml.model"][2]
    if model == "gpt2":
        kept = set(tokens)
        merges = [m for m in kv["tokenizer.ggml.merges"][2] if all(p in kept for p in m.split(" ", 1)) and m.replace(" ", "", 1) in kept]
        out["tokenizer.ggml.merges"] = (T.ARRAY, T.STRING, merges)
        eos = len(tokens)
        tokens.append("<|endoftext|>")
        types.append(3)
        out["tokenizer.ggml.bos_token_id"] = (T.UINT32, None, eos)
        out["tokenizer.ggml.eos_token_id"] = (T.UINT32, None, eos)
    else:  # SentencePiece: <unk>, <s>, </s> are ids 0..2 and stay.
        scores = list(kv["tokenizer.ggml.scores"][2][:size])
        # Single characters (printable ASCII and the word boundary "▁") rank low in llama-spm. A
        # full vocabulary has them all; without them llama.cpp (which starts from characters) and
        # byte-fallback BPE (which merges only pieces it has) part ways, so they are kept too.
        full = kv["tokenizer.ggml.tokens"][2]
        kept = set(tokens)
        for char in ["\u2581"] + [chr(c) for c in range(0x21, 0x7F)]:
            if char not in kept and char in full:
                index = full.index(char)
                tokens.append(char)
                types.append(1)
                scores.append(kv["tokenizer.ggml.scores"][2][index])
        out["tokenizer.ggml.scores"] = (T.ARRAY, T.FLOAT32, scores)
        for key in ["bos_token_id", "eos_token_id", "unknown_token_id", "add_bos_token", "add_eos_token"]:
            full = f"tokenizer.ggml.{key}"
            if full in kv:
                out[full] = kv[full]
    out["tokenizer.ggml.tokens"] = (T.ARRAY, T.STRING, tokens)
    out["tokenizer.ggml.token_type"] = (T.ARRAY, T.INT32, types)
    return out


if __name__ == "__main__":
    main()
