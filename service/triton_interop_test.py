#!/usr/bin/env python3
"""Interoperability: Triton's own Python gRPC client (tritonclient, pinned, from a test-only
virtual environment) calls `sonicbench serve` unchanged -- server and model metadata, inference,
statistics, an error status -- and gets the same outputs as local inference.

Run by CTest with Debian's /usr/bin/python3; it re-executes itself with the venv's interpreter.
Exits 77 (CTest skip) with a message when the venv could not be made because PyPI was
unreachable.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from serve_process import start_serve  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--venv", required=True)
    parser.add_argument("--sonicbench", required=True)
    parser.add_argument("--local-infer", required=True,
                        help="service_local_infer: runs the model in-process for the expected outputs")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def run(args):
    import numpy as np
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    server, banner = start_serve(args.sonicbench,
                                 ["--model", "jet_cnn", "--backend", "reference", "--port", "0",
                                  "--max-batch", "4", "--max-queue-delay-us", "500"],
                                 timeout_s=60)
    url = banner["address"]
    try:
        client = grpcclient.InferenceServerClient(url=url)
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("jet_cnn")
        assert not client.is_model_ready("jet_cnn", "2")
        server_metadata = client.get_server_metadata(as_json=True)
        assert server_metadata["name"] == "sonicbench", server_metadata
        assert "model_statistics" in server_metadata["extensions"], server_metadata
        model = client.get_model_metadata("jet_cnn", as_json=True)
        assert model["versions"] == ["1"], model
        assert model["inputs"] == [{"name": "input", "datatype": "FP32",
                                    "shape": ["-1", "1", "40", "40"]}], model
        assert model["outputs"] == [{"name": "output", "datatype": "FP32",
                                     "shape": ["-1", "2"]}], model

        rng = np.random.default_rng(42)
        batch = 3
        data = rng.random((batch, 1, 40, 40), dtype=np.float32)
        inputs = [grpcclient.InferInput("input", list(data.shape), "FP32")]
        inputs[0].set_data_from_numpy(data)
        outputs = [grpcclient.InferRequestedOutput("output")]
        result = client.infer("jet_cnn", inputs, outputs=outputs, request_id="interop-1")
        remote = result.as_numpy("output")
        assert remote.shape == (batch, 2), remote.shape
        assert result.get_response().id == "interop-1"

        # The same samples through the model in-process: the local answer.
        with tempfile.TemporaryDirectory() as tmp:
            in_path, out_path = os.path.join(tmp, "in.bin"), os.path.join(tmp, "out.bin")
            data.tofile(in_path)
            subprocess.run([args.local_infer, "jet_cnn", "reference", str(batch), in_path, out_path],
                           check=True)
            local = np.fromfile(out_path, dtype=np.float32).reshape(batch, 2)
        np.testing.assert_allclose(remote, local, rtol=1e-6, atol=1e-7)

        # Asynchronous inference, as Triton's client does it.
        done = []
        client.async_infer("jet_cnn", inputs, lambda result, error: done.append((result, error)),
                           outputs=outputs)
        deadline = time.monotonic() + 30
        while not done and time.monotonic() < deadline:
            time.sleep(0.01)
        assert done and done[0][1] is None, done
        np.testing.assert_allclose(done[0][0].as_numpy("output"), local, rtol=1e-6, atol=1e-7)

        # Triton's system shared-memory extension, with Triton's own shared-memory helpers: the
        # input is read from a region and the output written to another.
        import tritonclient.utils.shared_memory as shm
        in_bytes, out_bytes = data.nbytes, local.nbytes
        tag = os.getpid()
        in_handle = shm.create_shared_memory_region("in", f"/sonic_interop_in_{tag}", in_bytes)
        out_handle = shm.create_shared_memory_region("out", f"/sonic_interop_out_{tag}", out_bytes)
        try:
            shm.set_shared_memory_region(in_handle, [data])
            client.register_system_shared_memory("in", f"/sonic_interop_in_{tag}", in_bytes)
            client.register_system_shared_memory("out", f"/sonic_interop_out_{tag}", out_bytes)
            status = client.get_system_shared_memory_status(as_json=True)
            assert sorted(status["regions"]) == ["in", "out"], status
            shm_inputs = [grpcclient.InferInput("input", list(data.shape), "FP32")]
            shm_inputs[0].set_shared_memory("in", in_bytes)
            shm_output = grpcclient.InferRequestedOutput("output")
            shm_output.set_shared_memory("out", out_bytes)
            shm_result = client.infer("jet_cnn", shm_inputs, outputs=[shm_output])
            assert shm_result.get_output("output").shape == [batch, 2]
            from_shm = shm.get_contents_as_numpy(out_handle, np.float32, [batch, 2])
            np.testing.assert_allclose(from_shm, local, rtol=1e-6, atol=1e-7)
            client.unregister_system_shared_memory()
            assert not client.get_system_shared_memory_status(as_json=True).get("regions")
        finally:
            shm.destroy_shared_memory_region(in_handle)
            shm.destroy_shared_memory_region(out_handle)

        # An error status travels back as Triton's client expects it.
        try:
            client.infer("resnet7", inputs)
            raise AssertionError("unknown model accepted")
        except InferenceServerException as error:
            assert error.status() == "StatusCode.NOT_FOUND", error.status()
            assert "jet_cnn" in error.message(), error.message()

        stats = client.get_inference_statistics("jet_cnn", as_json=True)["model_stats"][0]
        assert stats["name"] == "jet_cnn" and stats["version"] == "1", stats
        assert int(stats["inference_count"]) == 3 * batch, stats
        infer_stats = stats["inference_stats"]
        assert int(infer_stats["success"]["count"]) == 3, infer_stats
        assert int(infer_stats["compute_infer"]["ns"]) > 0, infer_stats
        assert any(int(b["batch_size"]) == batch for b in stats["batch_stats"]), stats
        print(f"triton interop: ok against {url}: metadata, sync and async inference "
              f"(max |remote - local| = {np.abs(remote - local).max():.2e}), system shared memory, "
              "statistics, errors")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert code == 0, f"sonicbench serve exited {code}"
    return 0


def main():
    args = parse_args()
    if args.inner:
        return run(args)
    python = os.path.join(args.venv, "bin", "python")
    if not os.path.exists(os.path.join(args.venv, ".sonic-requirements")):
        print(f"SKIP: no tritonclient virtual environment at {args.venv} (PyPI unreachable when "
              "tools/triton-client-venv.sh ran?)")
        return 77
    os.execv(python, [python, os.path.abspath(__file__), "--venv", args.venv, "--sonicbench",
                      args.sonicbench, "--local-infer", args.local_infer, "--inner"])


if __name__ == "__main__":
    sys.exit(main())
