"""The worker's connection to a Triton server: requests with a deadline, and what happens
while the server is away.

A stream cannot wait for a server: every request has a client deadline (the timeout
setting, 150 ms by default), and a server that fails one is "away". While it is away no
request is sent at all (the caller passes the frame through, or runs its local models),
except one try about once a second, on a fresh channel so that gRPC's reconnect back-off
never delays the return of a restarted server. A server that refuses the key, or serves
other models than `faceswap triton-repo` writes, is not away: that is the user's to fix,
and says so (FaceSwapError).
"""

from __future__ import annotations

import importlib
import time

import numpy as np

from ..errors import FaceSwapError
from ..worker.in_flight import Answer, InFlight
from . import served

RETRY_S = 1.0
CONNECT_TIMEOUT_S = 2.0    # the first contact (the models' configs), not a frame's request
# gRPC's own reconnect back-off, short: a channel that is kept after a failure tries again soon.
# Not its minimum: gRPC's core takes that as the time a connection may take to be set up (TCP,
# TLS, HTTP/2 settings: several round trips); at 100 ms, a server 100 ms away (testkit's delay
# proxy) often failed to connect at all ("timed out before receiving SETTINGS frame").
# Its own subchannel pool: gRPC otherwise pools connections by address across channels, and a
# fresh channel could inherit the old one's failed connection and its back-off.
CHANNEL_ARGS = [("grpc.use_local_subchannel_pool", 1),
                ("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 500),
                ("grpc.min_reconnect_backoff_ms", int(CONNECT_TIMEOUT_S * 1000)),
                ("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
AWAY_CODES = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "RESOURCE_EXHAUSTED", "ABORTED", "INTERNAL", "UNKNOWN")
NUMPY_TYPES = {"UINT8": np.uint8, "FP32": np.float32}


class ServerAway(Exception):
    """The server did not answer in time (or is in its wait before the next try)."""


def parse_address(address: str) -> str:
    """'HOST:PORT' (or 'HOST', which gets Triton's gRPC port 8001) as gRPC dials it."""
    address = (address or "").strip()
    if not address:
        raise FaceSwapError("The Triton runtime needs the server's address: type HOST:PORT in the filter's "
                            "'Triton server' box (or --server HOST:PORT).")
    if "://" in address:
        address = address.split("://", 1)[1]
    if address.startswith("["):                       # [IPv6]:PORT
        host, _, rest = address.partition("]")
        host, port = host + "]", rest[1:] if rest.startswith(":") else ""
    elif address.count(":") == 1:
        host, port = address.split(":")
    else:                                             # HOST, or a bare IPv6 address
        host, port = (f"[{address}]" if ":" in address else address), ""
    if not port and host:
        return f"{host}:{served.DEFAULT_PORT}"
    if not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise FaceSwapError(f"'{address}' is not a server address; type HOST:PORT, e.g. 192.168.1.20:8001.")
    return f"{host}:{port}"


def _short(error) -> str:
    """A gRPC failure in a few words for the status line."""
    status = str(error.status() or "").replace("StatusCode.", "")
    message = (error.message() or "").split("\n")[0]
    lowered = message.lower()
    if "handshake" in lowered or "ssl" in lowered or "certificate" in lowered:
        message = "the TLS handshake failed: TLS on one side only, or a certificate that is not the server's"
    elif "Failed parsing HTTP/2" in message or "http1" in lowered:
        message = f"that port does not speak gRPC (Triton's HTTP port?): use its gRPC port, {served.DEFAULT_PORT}"
    elif "failed to connect to all addresses" in message or "Connection refused" in message:
        message = "nothing answers at that address"
    elif any(words in message for words in ("Socket closed", "Stream removed", "Connection reset", "Broken pipe",
                                            "GOAWAY")):
        message = "the connection was lost: the server stopped, or the network"
    elif "Deadline Exceeded" in message:
        message = "no answer in time"
    return f"{status}: {message[:120]}" if status else message[:120]


class TritonLink:
    """One worker's connection to one Triton server (used from the engine's thread)."""

    def __init__(self, address: str, *, tls: bool = False, certificate: str = "", key: str = "",
                 timeout_ms: int = 150, patience_s: float = 0.0, clock=time.monotonic):
        try:
            self._grpc = importlib.import_module("tritonclient.grpc")
        except ImportError:
            raise FaceSwapError("The Triton runtime needs tritonclient, which the installer puts in the worker's "
                                "environment: run the installer again (or pip install 'tritonclient[grpc]>=2.51' "
                                "there).") from None
        self.address = parse_address(address)
        self.tls = bool(tls)
        if certificate and not self.tls:
            raise FaceSwapError("A server certificate is chosen but TLS is off; switch 'Server uses TLS' on.")
        self.certificate = certificate or None
        if self.certificate:
            try:
                with open(self.certificate, "rb") as handle:
                    if b"BEGIN CERTIFICATE" not in handle.read():
                        raise OSError("not a PEM certificate")
            except OSError as error:
                raise FaceSwapError(f"The server certificate {certificate} cannot be used ({error}); choose the "
                                    "server.crt that faceswap triton-repo --tls wrote.") from None
        self.headers = {served.KEY_HEADER: key} if key else None
        self.timeout = max(float(timeout_ms), 1.0) / 1000.0
        # > 0: a file render's link, where nobody waits for a frame: an answer not in is
        # asked for again (once a second) until this many seconds, then FaceSwapError
        self.patience = float(patience_s)
        self.clock = clock
        self.batch: dict[str, int] = {}   # max_batch_size of each served model, learnt on first contact
        self.away = False           # the last request failed; only a try a second until one answers
        self.away_reason = ""
        self.retry_at = 0.0
        self.round_trips = 0
        self.requests = 0           # frames' requests sent (a try while away included)
        self._client = None

    # -- the connection ------------------------------------------------------------
    def _fresh_client(self):
        grpcclient = self._grpc
        if self._client is not None:
            self._client.close()
        self._client = grpcclient.InferenceServerClient(self.address, ssl=self.tls,
                                                        root_certificates=self.certificate,
                                                        channel_args=CHANNEL_ARGS)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def due(self) -> bool:
        """Whether a request would be sent now: the server answers, or its next try is due."""
        return not self.away or self.clock() >= self.retry_at

    def status_words(self) -> str:
        """'' while the server answers; else what is wrong, for the status line."""
        return f"Triton server {self.address} away ({self.away_reason})" if self.away else ""

    def _refused(self, error) -> FaceSwapError | None:
        message = error.message() or ""
        if "protocol is restricted" in message:
            what = "no key was sent" if not self.headers else "the key is not the server's"
            return FaceSwapError(f"The Triton server at {self.address} refused the request: {what}. Type the key "
                                 "from start-server.sh (faceswap-key=...) in the filter's 'Server key' box "
                                 "(or --server-key).")
        if "unknown model" in message or "is not found" in message:   # gRPC starts after every model is loaded
            return FaceSwapError(f"The Triton server at {self.address} does not serve the models this filter needs "
                                 f"({message.splitlines()[0][:160]}); make its repository with: faceswap "
                                 "triton-repo OUT, and serve OUT/models (OUT/start-server.sh).")
        status = str(error.status() or "").replace("StatusCode.", "")
        if status and status not in AWAY_CODES and "not ready" not in message:
            return FaceSwapError(f"The Triton server at {self.address} rejected a request ({status}: "
                                 f"{message.splitlines()[0][:200]}); make its repository again with this "
                                 "version's faceswap triton-repo.")
        return None

    def _failed(self, error) -> Exception:
        """What a failed request means: the user's to fix (FaceSwapError), or the server away."""
        refused = self._refused(error)
        if refused is not None:
            return refused
        if not self.away:
            self.away, self.away_reason = True, _short(error)
        self.retry_at = self.clock() + RETRY_S
        return ServerAway(self.status_words())

    def _call(self, action, answered: bool = True):
        """Run action(client) unless the server is away and not due for its next try.
        `answered`: action returns the server's answer (else only sends; the answer's
        arrival says the server is back). A try while away is the only one for RETRY_S,
        so a second frame is not sent before the first one's answer is in."""
        from tritonclient.utils import InferenceServerException

        if not self.due():
            raise ServerAway(self.status_words())
        if self.away:
            self.retry_at = self.clock() + RETRY_S
            client = self._fresh_client()
        else:
            client = self._client if self._client is not None else self._fresh_client()
        try:
            result = action(client)
        except InferenceServerException as error:
            raise self._failed(error) from None
        if answered:
            self._answered()
        return result

    def _answered(self) -> None:
        """The server answered: it is not away (any more)."""
        self.away, self.away_reason = False, ""

    # -- models ----------------------------------------------------------------------
    def learn(self, model: served.ServedModel, timeout: float | None = None) -> int:
        """The served model's max_batch_size, checked against what this version sends.
        timeout: None, a frame's (the first contact may come on a frame, which must not wait
        longer than any other)."""
        if model.name in self.batch:
            return self.batch[model.name]

        def config(client):
            return client.get_model_config(model.name, headers=self.headers, as_json=True,
                                           client_timeout=timeout or self.timeout)["config"]

        found = self._call(config)
        declared = {item["name"]: item.get("data_type", "") for item in (*found.get("input", []),
                                                                         *found.get("output", []))}
        wanted = {t.name: f"TYPE_{t.dtype}" for t in (*model.inputs, *model.outputs)}
        if declared != wanted:
            raise FaceSwapError(f"The Triton server at {self.address} serves a {model.name} with tensors {declared}, "
                                f"not {wanted}; make its repository again with: faceswap triton-repo OUT")
        self.batch[model.name] = int(found.get("max_batch_size", 0))
        return self.batch[model.name]

    def check(self) -> None:
        """Contact at start: both models' configs. A server that is away now is not an error
        (it may start later); a refused key or the wrong models are."""
        try:
            for model in served.SERVED:
                # a patient link waits at its first frame instead, where it says so when it gives up
                self.learn(model, CONNECT_TIMEOUT_S if self.patience else max(self.timeout, CONNECT_TIMEOUT_S))
        except ServerAway:
            pass

    def infer(self, model: served.ServedModel, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """send(), waited for at once."""
        return self.send(model, feeds).result()

    def send(self, model: served.ServedModel, feeds: dict[str, np.ndarray]) -> InFlight:
        """send_once(); on a patient link, sent again while the server is away, until the
        patience is spent (then FaceSwapError: the render stops rather than leave a frame
        unswapped)."""
        if not self.patience:
            return self.send_once(model, feeds)
        deadline = self.clock() + self.patience

        def attempt() -> InFlight | None:
            try:
                return self.send_once(model, feeds)
            except ServerAway:
                return None

        first = attempt()

        def receive():
            flight = first
            while True:
                if flight is not None:
                    try:
                        return flight.result()
                    except ServerAway:
                        pass
                if self.clock() >= deadline:
                    raise FaceSwapError(
                        f"The Triton server {self.address} gave no answer within {self.patience:.0f} s "
                        f"({self.away_reason or 'no answer'}); the render stopped rather than leave frames "
                        "unswapped. Start the server (start-server.sh on the GPU machine) and run the command "
                        "again, or use --server-fallback local to run the models here while it is away.")
                time.sleep(max(0.0, min(self.retry_at, deadline) - self.clock()))
                flight = attempt()

        return InFlight(receive, waits_on=first)

    def send_once(self, model: served.ServedModel, feeds: dict[str, np.ndarray]) -> InFlight:
        """Send the model's work for N items (the first axis of every feed) and return at
        once; result() is its one output, waited for within the timeout. In requests of up
        to max_batch_size items (one item each when the graph's batch is fixed), all sent
        together. Raises ServerAway now when no request is due."""
        from tritonclient.utils import InferenceServerException

        batch = self.learn(model)
        count = len(next(iter(feeds.values())))
        step = batch or 1
        chunks = [{name: np.ascontiguousarray(value[first:first + step], NUMPY_TYPES[model.tensor(name).dtype])
                   for name, value in feeds.items()} for first in range(0, count, step)]
        output = model.outputs[0].name
        grpcclient = self._grpc
        wanted = [grpcclient.InferRequestedOutput(output)]
        answer = Answer(len(chunks))

        def callback(index):
            return lambda result, error: answer.fill(index, error if error is not None else result.as_numpy(output))

        def request(client):
            for index, chunk in enumerate(chunks):
                inputs = []
                for name, value in chunk.items():
                    tensor = grpcclient.InferInput(name, list(value.shape), model.tensor(name).dtype)
                    tensor.set_data_from_numpy(value)
                    inputs.append(tensor)
                client.async_infer(model.name, inputs, callback(index), outputs=wanted, headers=self.headers,
                                   client_timeout=self.timeout)

        self._call(request, answered=False)
        self.requests += 1
        deadline = time.monotonic() + self.timeout + 0.05   # each call ends itself at the timeout

        def receive():
            if not answer.wait(deadline - time.monotonic()):
                raise self._failed(InferenceServerException("no answer in time",
                                                            status="StatusCode.DEADLINE_EXCEEDED"))
            for part in answer.parts:
                if isinstance(part, Exception):
                    raise self._failed(part)
            self._answered()
            self.round_trips += 1
            return np.concatenate(answer.parts) if len(answer.parts) > 1 else answer.parts[0]

        return InFlight(receive, waits_on=answer)
