"""Starting `behemoth serve` on loopback and talking to it with the standard library only.

Why: benchmarks/serve_speed.py needs a server on a free port and a client that can see when each
piece of a streamed answer arrives (time to first token), without the requests package. The
server prints `serving NAME on http://HOST:PORT (tp N, KV blocks B)` once it listens; the port
is read from that line. Streams are server-sent events, `data: {json}` blocks separated by a blank
line and ended by `data: [DONE]` (docs/serving.md); http.client undoes the chunked encoding.
"""

import http.client
import json
import os
import re
import subprocess
import tempfile
import threading
import time

READY = re.compile(r"serving (.+) on http://([^:/\s]+):(\d+) \(tp (\d+), KV blocks (\d+)\)")


class Server:
    """A `behemoth serve` process; use as a context manager, or call stop()."""

    def __init__(self, binary, model_input, sets=(), threads=None, ready_timeout=300):
        env = dict(os.environ)
        if threads:
            env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        command = [binary, "serve", model_input, "--port", "0"]
        for assignment in sets:
            command += ["--set", assignment]
        self.command = command
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        self.ready_line = self._wait_ready(ready_timeout)
        match = READY.search(self.ready_line)
        self.name, self.host, self.port = match.group(1), match.group(2), int(match.group(3))
        self.kv_blocks = int(match.group(5))
        # Keep reading stdout so the server can never block on a full pipe.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def _wait_ready(self, timeout):
        found = []
        reader = threading.Thread(target=lambda: found.append(self._first_ready_line()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not found or found[0] is None:
            self.stop()
            raise RuntimeError(f"`{' '.join(self.command)}` did not print its ready line: {self.stderr_text()}")
        return found[0]

    def _first_ready_line(self):
        for line in self.process.stdout:
            if READY.search(line):
                return line.strip()
        return None

    def stderr_text(self):
        self.log.seek(0)
        return self.log.read().strip()

    def alive(self):
        return self.process.poll() is None

    def stop(self, timeout=30):
        """SIGINT, as Ctrl-C; a kill if it has not exited after `timeout`. Returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def connection(self, timeout=600):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def complete(self, body, timeout=600):
        """(HTTP status, parsed JSON) of one POST /v1/completions answered whole."""
        connection = self.connection(timeout)
        try:
            connection.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    def stream(self, body, timeout=600):
        """A streamed completion, timed from just before the request is sent: {"text", "finish",
        "first_s" (the first piece's arrival), "end_s" ([DONE]), "pieces"}."""
        connection = self.connection(timeout)
        began = time.perf_counter()
        result = {"text": "", "finish": None, "first_s": None, "end_s": None, "pieces": 0}
        try:
            connection.request("POST", "/v1/completions", json.dumps(dict(body, stream=True)),
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {response.read()[:300]!r}")
            for data in events(response):
                if data == "[DONE]":
                    result["end_s"] = time.perf_counter() - began
                    break
                choice = json.loads(data)["choices"][0]
                if result["first_s"] is None:
                    result["first_s"] = time.perf_counter() - began
                result["text"] += choice["text"]
                result["pieces"] += 1
                if choice["finish_reason"] is not None:
                    result["finish"] = choice["finish_reason"]
        finally:
            connection.close()
        return result

    def metrics(self):
        """{sample name with its labels: value} of GET /metrics."""
        connection = self.connection(30)
        try:
            connection.request("GET", "/metrics")
            text = connection.getresponse().read().decode("utf-8")
        finally:
            connection.close()
        return parse_prometheus(text)


def events(response):
    """The `data:` payloads of a server-sent event stream, one string per event."""
    lines = []
    while True:
        line = response.readline()
        if not line:
            return
        line = line.decode("utf-8").rstrip("\r\n")
        if line:
            lines.append(line)
            continue
        data = [item[5:].lstrip(" ") for item in lines if item.startswith("data:")]
        lines = []
        if data:
            yield "\n".join(data)


def parse_prometheus(text):
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples
