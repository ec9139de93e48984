"""Write a BERT sentence-embedding model (safetensors + WordPiece vocab) as a GGUF file.

A light converter that needs only `gguf`, `safetensors` and `numpy` (no torch, no
transformers). It writes what llama.cpp's `convert_hf_to_gguf.py` writes for `BertModel`:
the `bert` architecture, the tensors renamed with gguf's BERT name map (the pooler and the
position ids dropped), the WordPiece vocabulary in "phantom space" form, the special token
ids, mean pooling and non-causal attention. Plain Python, no Django import, so that it can
also run as ``python -m inference.convert_bert MODEL_DIR OUT.gguf``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load_file

# Tensors that sentence embedding does not use.
_SKIPPED = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")
_POOLING = {
    "pooling_mode_mean_tokens": gguf.PoolingType.MEAN,
    "pooling_mode_cls_token": gguf.PoolingType.CLS,
}
_FILE_TYPES = {"f16": gguf.LlamaFileType.MOSTLY_F16, "f32": gguf.LlamaFileType.ALL_F32}


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _pooling_type(model_dir: Path) -> gguf.PoolingType:
    config = _read_json(model_dir / "1_Pooling" / "config.json")
    for key, pooling in _POOLING.items():
        if config.get(key):
            return pooling
    return gguf.PoolingType.MEAN


def _vocab(model_dir: Path) -> tuple[list[str], list[int]]:
    """The WordPiece vocabulary, as llama.cpp's WPM tokenizer expects it."""
    words = (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")
    if words and words[-1] == "":
        words.pop()
    special = {
        token["content"]
        for token in _read_json(model_dir / "tokenizer.json").get("added_tokens", [])
        if token.get("special")
    } or {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    tokens: list[str] = []
    types: list[int] = []
    for word in words:
        if word in special:
            tokens.append(word)
            types.append(gguf.TokenType.CONTROL)
        elif word.startswith("##"):
            tokens.append(word[2:])  # a word continuation
            types.append(gguf.TokenType.NORMAL)
        elif word.startswith("[") and word.endswith("]"):
            tokens.append(word)  # [unused0] and the like
            types.append(gguf.TokenType.NORMAL)
        else:
            tokens.append("\u2581" + word)  # a word start: the "phantom space"
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


# ggml adds these to f32 activations, and its CPU add has no f32 + f16 kernel.
_F32_TENSORS = ("position_embd.weight", "token_types.weight")


def _tensor_type(name: str, array: np.ndarray, file_type: str) -> np.ndarray:
    if file_type == "f32" or array.ndim <= 1 or name.endswith("_norm.weight") or name in _F32_TENSORS:
        return array.astype(np.float32)
    return array.astype(np.float16)


def convert(*, model_dir: Path, out_path: Path, file_type: str = "f16", name: str = "") -> Path:
    """Convert the model in `model_dir` into `out_path` (written to a temporary name first)."""
    if file_type not in _FILE_TYPES:
        raise ValueError(f"file_type must be one of {sorted(_FILE_TYPES)}")
    config = _read_json(model_dir / "config.json")
    if config.get("model_type") != "bert":
        raise ValueError(f"{model_dir} is not a BERT model (model_type={config.get('model_type')!r})")
    n_layers = int(config["num_hidden_layers"])
    tensor_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layers)
    arch = gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT]

    logging.getLogger("gguf.gguf_writer").setLevel(logging.WARNING)  # no per-file chatter
    tmp_path = out_path.with_name(out_path.name + ".tmp")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(tmp_path), arch)
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name or model_dir.name)
    writer.add_context_length(int(config["max_position_embeddings"]))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_block_count(n_layers)
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_layer_norm_eps(float(config.get("layer_norm_eps", 1e-12)))
    writer.add_file_type(_FILE_TYPES[file_type])
    writer.add_causal_attention(False)
    writer.add_pooling_type(_pooling_type(model_dir))

    tokens, types = _vocab(model_dir)
    writer.add_token_type_count(int(config.get("type_vocab_size", 1)))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    # gguf has no CLS key: llama.cpp's BERT uses the BOS id as [CLS].
    special = gguf.SpecialVocab(
        model_dir, n_vocab=len(tokens), special_token_types=("unk", "sep", "pad", "mask")
    )
    special.add_to_gguf(writer, quiet=True)
    if "[CLS]" in tokens:
        writer.add_bos_token_id(tokens.index("[CLS]"))

    weights = load_file(str(model_dir / "model.safetensors"))
    for source_name in sorted(weights):
        name_ = source_name.removeprefix("bert.")
        if name_ in _SKIPPED or name_.startswith("cls."):
            continue
        new_name = tensor_map.get_name(name_, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            raise ValueError(f"no GGUF name for tensor {source_name!r}")
        writer.add_tensor(new_name, _tensor_type(new_name, weights[source_name], file_type))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp_path.replace(out_path)
    return out_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--type", choices=sorted(_FILE_TYPES), default="f16")
    args = parser.parse_args()
    print(convert(model_dir=args.model_dir, out_path=args.out, file_type=args.type))


if __name__ == "__main__":
    main()
