"""`faceswap triton-repo`: the served graphs equal the local engine's arithmetic, the batch
check tells a batching graph from a fixed one, and the files it writes are what a real
Triton 2.51 server (the one nvidia-pytriton bundles) reads.

Stand-ins of the recognizer and inswapper_128 (their real signatures; the real weights
cannot be downloaded here). The onnxruntime-backend repository cannot be served here (the
bundled server has only the Python backend, and there is no GPU for TensorRT): its
config.pbtxt is checked by the real server's parser up to the backend lookup.
"""

from __future__ import annotations

import re
import stat

import numpy as np
import onnxruntime as ort
import pytest

from faceswap_core.cli import main as faceswap
from faceswap_core.errors import FaceSwapError
from faceswap_core.neural.providers import ModelSession
from faceswap_core.neural.recognizer import ArcFaceRecognizer
from faceswap_core.neural.swapper import InSwapper, read_emap
from faceswap_core.remote import served, served_graphs
from testkit import standins, triton_server


def _session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_served_recognizer_gives_the_local_embeddings(recognizer_model):
    feeds = served_graphs.sample_inputs(served.RECOGNIZER, 3, seed=7)
    remote = _session(served_graphs.served_graph("recognizer", str(recognizer_model))).run(None, feeds)[0]
    local = ArcFaceRecognizer(ModelSession(str(recognizer_model))).raw_embeddings(list(feeds["face"]))
    assert remote.dtype == np.float32 and remote.shape == (3, 512)
    np.testing.assert_allclose(remote, local, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fp16", [False, True], ids=["fp32", "fp16"])
def test_served_swapper_gives_the_local_crops_from_raw_embeddings(standin_dir, fp16):
    """uint8 BGR in and out, a raw (not normalised) embedding in: emap and both
    normalisations happen inside, as InSwapper.latent does them outside."""
    path = standins.build_swapper(standin_dir / f"served_swap_{fp16}.onnx", fp16=fp16)
    feeds = served_graphs.sample_inputs(served.SWAPPER, 3, seed=8)
    feeds["identity"] *= 7.0    # a raw embedding's length is not 1
    remote = _session(served_graphs.served_graph("swapper", str(path))).run(None, feeds)[0]
    swapper = InSwapper(ModelSession(str(path)), read_emap(str(path)))
    local = np.stack(swapper.run_many(list(feeds["target"]), [swapper.latent(e) for e in feeds["identity"]]))
    assert remote.dtype == np.uint8 and remote.shape == (3, 128, 128, 3)
    assert int(np.abs(remote.astype(int) - local).max()) <= 1
    assert float(np.abs(remote.astype(int) - feeds["target"]).mean()) > 5   # it did swap something


def test_an_export_listing_its_weights_as_inputs_serves_only_the_served_tensors(swapper_model, standin_dir):
    """Older exporters list every weight among the graph's inputs too: the served graph's
    inputs are exactly what `served` says (Triton checks them against config.pbtxt)."""
    import onnx
    from onnx import helper

    model = onnx.load(str(swapper_model))
    model.graph.input.extend(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims))
                             for init in model.graph.initializer)
    old_style = standin_dir / "weights_as_inputs.onnx"
    onnx.save(model, str(old_style))
    wrapped = served_graphs.served_graph("swapper", str(old_style))
    assert [arg.name for arg in wrapped.graph.input] == ["target", "identity"]
    feeds = served_graphs.sample_inputs(served.SWAPPER, 2, seed=3)
    plain = served_graphs.served_graph("swapper", str(swapper_model))
    assert np.array_equal(_session(wrapped).run(None, feeds)[0], _session(plain).run(None, feeds)[0])


def test_a_file_whose_names_are_the_served_ones_is_wrapped(swapper_model, standin_dir):
    """A swapper whose own output is called `swapped` (and whose input is `target`, as the
    real one's is): the file's tensors are renamed, the served names stay ours."""
    import onnx

    model = onnx.load(str(swapper_model))
    for node in model.graph.node:
        node.output[:] = ["swapped" if name == "output" else name for name in node.output]
    model.graph.output[0].name = "swapped"
    clashing = standin_dir / "clashing_names.onnx"
    onnx.save(model, str(clashing))
    feeds = served_graphs.sample_inputs(served.SWAPPER, 2, seed=4)
    wrapped = served_graphs.served_graph("swapper", str(clashing))
    plain = served_graphs.served_graph("swapper", str(swapper_model))
    assert [arg.name for arg in wrapped.graph.output] == ["swapped"]
    assert np.array_equal(_session(wrapped).run(None, feeds)[0], _session(plain).run(None, feeds)[0])


def test_batch_check_tells_a_batching_graph_from_a_fixed_one(swapper_model, standin_dir):
    fixed = standins.build_swapper(standin_dir / "one_per_run.onnx", one_per_run=True)
    assert served_graphs.batches("swapper", served_graphs.served_graph("swapper", str(swapper_model)))
    assert not served_graphs.batches("swapper", served_graphs.served_graph("swapper", str(fixed)))


def test_a_file_that_is_no_swapper_is_refused_with_advice(recognizer_model):
    with pytest.raises(FaceSwapError, match="512x512 emap|not inswapper"):
        served_graphs.served_graph("swapper", str(recognizer_model))


def _write(out, recognizer, swapper, *extra):
    assert faceswap(["triton-repo", str(out), "--recognizer", str(recognizer), "--swapper", str(swapper),
                     *extra]) == 0
    return out


def test_repository_layout_configs_and_start_script(tmp_path, recognizer_model, standin_dir, capsys):
    fixed = standins.build_swapper(standin_dir / "one_per_run_repo.onnx", one_per_run=True)
    out = _write(tmp_path / "repo", recognizer_model, fixed, "--key", "k-123", "--tls", "gpu.example",
                 "--tls", "10.0.0.5", "--precision", "fp32")
    printed = capsys.readouterr().out
    assert "one face per request" in printed and "up to 8 faces per request" in printed
    recognizer = (out / "models/faceswap_recognizer/config.pbtxt").read_text()
    swapper = (out / "models/faceswap_swapper/config.pbtxt").read_text()
    assert 'backend: "onnxruntime"' in recognizer and "max_batch_size: 8" in recognizer
    assert "dims: [ 112, 112, 3 ]" in recognizer and "dynamic_batching" in recognizer
    # the fixed graph: no batching, the batch of 1 in its dims
    assert "max_batch_size: 0" in swapper and "dims: [ 1, 128, 128, 3 ]" in swapper and "dims: [ 1, 512 ]" in swapper
    assert "dynamic_batching" not in swapper
    assert 'model_warmup [ { name: "first_request" batch_size: 1' in swapper   # TensorRT builds before serving
    assert 'name: "tensorrt"' in swapper and 'value: "FP32"' in swapper and "trt_engine_cache_enable" in swapper
    assert (out / "models/faceswap_swapper/1/model.onnx").is_file()
    assert not (out / "models/faceswap_swapper/1/model.py").exists()
    script = out / "start-server.sh"
    text = script.read_text()
    assert "--gpus all" in text and "faceswap-key=k-123" in text and "--grpc-use-ssl=true" in text
    assert stat.S_IMODE(script.stat().st_mode) == 0o700
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate((out / "tls/server.crt").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "gpu.example" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]


def _run(*argv):
    from faceswap_core.cli import build_parser

    args = build_parser().parse_args(list(argv))
    return args.handler(args)


def test_a_key_triton_cannot_parse_is_refused(tmp_path, recognizer_model, swapper_model):
    with pytest.raises(FaceSwapError, match="may not hold"):
        _run("triton-repo", str(tmp_path), "--recognizer", str(recognizer_model), "--swapper", str(swapper_model),
             "--key", "a:b")


def test_missing_models_name_the_install_command(tmp_path):
    with pytest.raises(FaceSwapError, match="faceswap models install w600k_r50 inswapper_128"):
        _run("triton-repo", str(tmp_path / "out"), "--model-dir", str(tmp_path / "empty"))


def test_real_triton_reads_the_onnxruntime_configs(tmp_path, recognizer_model, swapper_model):
    """The bundled server parses both config.pbtxt files (TensorRT accelerator included) and
    stops only at the missing onnxruntime backend; a config it cannot parse says so instead."""
    if triton_server.skip_reason():
        pytest.skip(triton_server.skip_reason())
    out = _write(tmp_path / "repo", recognizer_model, swapper_model)

    def load_errors():
        server = triton_server.TritonServer(out / "models")
        try:
            with pytest.raises(RuntimeError, match="failed to load all models"):
                server.start()
            return server.log.read_text()
        finally:
            server.close()

    log = load_errors()
    for name in ("faceswap_recognizer", "faceswap_swapper"):
        assert re.search(rf"failed to load '{name}'.*unable to find backend library for backend 'onnxruntime'", log)
    assert "failed to read text proto" not in log
    config = out / "models/faceswap_recognizer/config.pbtxt"
    config.write_text(config.read_text().replace("gpu_execution_accelerator:", "gpu_accelerator:"))
    assert "failed to read text proto from " + str(config) in load_errors()
