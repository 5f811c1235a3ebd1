"""The model.py that Triton's Python backend runs for a served graph (`faceswap triton-repo
--backend python`): the graph beside it, run by ONNX Runtime inside the server.

For a server without Triton's onnxruntime backend (the one bundled by nvidia-pytriton, which
the tests start) and for checking a repository on a machine without a GPU. It imports only
what the server's own Python has (numpy, onnxruntime, Triton's utilities), never this
project, and reads its tensors' names from its config.pbtxt, so one file serves every model.
"""

import json
import os

import numpy as np
import onnxruntime
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.inputs = [tensor["name"] for tensor in config["input"]]
        self.outputs = [tensor["name"] for tensor in config["output"]]
        folder = os.path.join(args["model_repository"], args["model_version"])
        options = onnxruntime.SessionOptions()
        threads = config.get("parameters", {}).get("threads", {}).get("string_value", "0")
        options.intra_op_num_threads = int(threads)
        self.session = onnxruntime.InferenceSession(os.path.join(folder, "model.onnx"), options,
                                                    providers=["CPUExecutionProvider"])

    def execute(self, requests):
        responses = []
        for request in requests:   # one request holds every face of a frame
            feeds = {name: pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in self.inputs}
            try:
                results = self.session.run(self.outputs, feeds)
            except Exception as error:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(error))))
                continue
            responses.append(pb_utils.InferenceResponse(
                [pb_utils.Tensor(name, np.ascontiguousarray(value)) for name, value in zip(self.outputs, results)]))
        return responses
