"""A `behemoth serve` process on loopback and the raw HTTP the load test speaks to it (stdlib only).

Why: serve_load_test.py must send bodies that are not JSON at all, read streams piece by piece and
drop connections mid-answer, which a client library would not let it do; and it must notice the
moment the server is gone. The server prints `serving NAME on http://HOST:PORT (tp N, KV blocks B)`
when it listens (`--port 0`: a free port); the port comes from that line.
"""

import http.client
import json
import re
import socket
import struct
import subprocess
import tempfile
import threading

READY = re.compile(r"serving (.+) on http://([^:/\s]+):(\d+) \(tp (\d+), KV blocks (\d+)\)")


class ServerGone(RuntimeError):
    pass


class ServeProcess:
    def __init__(self, binary, project, env, ready_timeout=120):
        self.command = [binary, "serve", project, "--port", "0"]
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        seen = []
        self._ready = threading.Event()
        threading.Thread(target=self._read_until_ready, args=(seen,), daemon=True).start()
        self._ready.wait(ready_timeout)
        if not seen:
            self.stop()
            raise ServerGone(f"`{' '.join(self.command)}` printed no ready line within {ready_timeout} s "
                             f"(exit status {self.process.returncode}): {self.stderr_text()}")
        match = READY.search(seen[0])
        self.ready_line = seen[0]
        self.host, self.port, self.kv_blocks = match.group(2), int(match.group(3)), int(match.group(5))

    def _read_until_ready(self, seen):
        for line in self.process.stdout:
            if READY.search(line):
                seen.append(line.strip())
                break
        self._ready.set()  # found, or stdout ended because the process did
        # Keep draining, so the server never blocks on a full pipe.
        for _ in self.process.stdout:
            pass

    def stderr_text(self):
        self.log.seek(0)
        return self.log.read().strip()

    def alive(self):
        return self.process.poll() is None

    def stop(self, timeout=60):
        """SIGINT (what Ctrl-C sends); killed if still there after `timeout`. Returns the exit status
        or None when it had to be killed."""
        if self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return None
        return self.process.returncode

    def request(self, method, path, body=None, timeout=120):
        """(status, headers dict with lower-case names, body bytes) of one request on a fresh connection."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        except (ConnectionError, http.client.HTTPException, socket.timeout) as error:
            if not self.alive():
                raise ServerGone(f"the server exited (status {self.process.returncode}) during {method} {path}") from error
            raise
        finally:
            connection.close()

    def post_json(self, body, timeout=120):
        """(status, parsed answer) of POST /v1/completions; `body` is a dict or raw bytes."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        status, _, answer = self.request("POST", "/v1/completions", raw, timeout)
        return status, json.loads(answer)

    def stream(self, body, stop_after=None, reset=False, timeout=120):
        """A streamed completion. Reads every event, or only `stop_after` of them and then drops the
        connection (`reset`: at once with a TCP RST, else an ordinary close). Returns
        {"status", "text", "finish", "done", "events"}."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        result = {"status": None, "text": "", "finish": None, "done": False, "events": 0}
        try:
            connection.request("POST", "/v1/completions", json.dumps(dict(body, stream=True)).encode("utf-8"),
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            result["status"] = response.status
            if response.status != 200:
                result["error"] = json.loads(response.read())
                return result
            for data in sse_events(response):
                if data == "[DONE]":
                    result["done"] = True
                    break
                choice = json.loads(data)["choices"][0]
                result["text"] += choice["text"]
                result["events"] += 1
                if choice["finish_reason"] is not None:
                    result["finish"] = choice["finish_reason"]
                if stop_after is not None and result["events"] >= stop_after:
                    if reset and connection.sock is not None:
                        connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
            return result
        finally:
            connection.close()

    def metrics(self):
        status, _, text = self.request("GET", "/metrics", timeout=30)
        if status != 200:
            raise RuntimeError(f"GET /metrics answered {status}")
        samples = {}
        for line in text.decode("utf-8").splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples


def sse_events(response):
    """Each event's `data:` payload of a server-sent event stream."""
    data = []
    while True:
        line = response.readline()
        if not line:
            return
        line = line.decode("utf-8").rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif not line and data:
            yield "\n".join(data)
            data = []
