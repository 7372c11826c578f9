#!/usr/bin/env python3
"""Test double of a remote LLM provider (python3 standard library only).

Speaks the OpenAI-compatible API (POST /v1/chat/completions,
POST /v1/embeddings) and Ollama's native API (POST /api/chat,
POST /api/embed) on 127.0.0.1, with deterministic replies:

  chat        "echo: " + the last user message; tokens are words
  embeddings  [len, len / 2, 1, -len] for an input of len characters

Special model names trigger behaviours:

  flaky-429   every other request (the first, third, ...) answers 429
              with Retry-After: 1
  flaky-500   every other request answers 500
  always-503  always 503
  html        200 with an HTML body
  redirect    302 to http://evil.example/
  slow        sleeps 3 s before answering
  bad-shape   200 with JSON of the wrong shape
  short-embed one embedding fewer than inputs
  echo-auth   401 whose error message quotes the Authorization header
              (as some providers quote a wrong key)

A chat with "stream": true is answered as the providers stream: OpenAI
server-sent events (one "data:" chunk per word of the reply, the usage
chunk when stream_options.include_usage, then "data: [DONE]") and Ollama
JSON lines (one per word, then "done": true with the counts), without a
Content-Length, flushed as they go.  Streaming models:

  slow-stream    40 words, 0.25 s apart
  broken-stream  two chunks, then a line of HTML
  error-stream   one chunk, then an error event
  cut-stream     two chunks, then the connection closes (no end marker)
  midline-stream two chunks and half a line, then the connection closes
  stall-stream   one chunk, 3 s of silence, the rest
  ping-stream    one chunk, then 3 s of keep-alives (OpenAI ": ping"
                 comments, Ollama blank lines) every 50 ms, the rest
  slow-error     503 whose body arrives a byte every 50 ms for 3 s
  chunky-stream  the reply and a 40,000-letter word, lines ending in
                 \r\n, sent in small writes cut anywhere (in "data:",
                 in the JSON, between \r and \n), the last line without
                 its line break

GET /_stats answers {"requests": n, "auth": last Authorization header
received or null, "body": last request body, "paths": [...],
"connections": connections accepted}.

Usage: llm_provider_double.py PORT [LIFETIME_S]
PORT 0 picks a free port.  Prints "port N pid P" on one line once it
listens.  Exits after LIFETIME_S seconds (default 120) so that it never
outlives a crashed test.
"""

import json
import os
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATS = {"requests": 0, "auth": None, "body": None, "paths": [], "connections": 0}
COUNTS = {}


def words(s):
    return len(s.split())


def vector(s):
    n = float(len(s))
    return [n, n / 2.0, 1.0, -n]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # as real servers do: a reply's writes are not held back for ACKs
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with LOCK:
            STATS["connections"] += 1

    def send(self, status, obj=None, raw=None, ctype="application/json", headers=()):
        data = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_stats":
            with LOCK:
                self.send(200, STATS)
        else:
            self.send(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        with LOCK:
            STATS["requests"] += 1
            STATS["auth"] = self.headers.get("Authorization")
            STATS["body"] = raw.decode("utf-8", "replace")
            STATS["paths"].append(self.path)
        try:
            req = json.loads(raw)
        except ValueError:
            self.send(400, {"error": {"message": "invalid JSON"}})
            return
        model = req.get("model", "")
        with LOCK:
            count = COUNTS.get(model, 0)
            COUNTS[model] = count + 1

        if model == "flaky-429" and count % 2 == 0:
            self.send(429, {"error": {"message": "rate limited"}}, headers=[("Retry-After", "1")])
            return
        if model == "flaky-500" and count % 2 == 0:
            self.send(500, {"error": {"message": "internal error"}})
            return
        if model == "always-503":
            self.send(503, {"error": {"message": "overloaded"}})
            return
        if model == "html":
            self.send(200, raw=b"<html><body><h1>Welcome to nginx!</h1></body></html>",
                      ctype="text/html")
            return
        if model == "redirect":
            self.send(302, raw=b"", ctype="text/plain",
                      headers=[("Location", "http://evil.example/")])
            return
        if model == "slow":
            time.sleep(3)
        if model == "slow-error":
            body = b'{"error": {"message": "' + b"x" * 60 + b'"}}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(0.05)
            return
        if model == "bad-shape":
            self.send(200, {"choices": "nope", "data": {"x": 1}, "embeddings": 3})
            return
        if model == "echo-auth":
            self.send(401, {"error": {"message": "Incorrect API key provided: %s"
                                      % self.headers.get("Authorization")}})
            return

        if self.path in ("/v1/chat/completions", "/api/chat") and req.get("stream"):
            self.stream(req, model, openai=self.path.startswith("/v1"))
        elif self.path == "/v1/chat/completions":
            self.chat_openai(req, model)
        elif self.path == "/api/chat":
            self.chat_ollama(req, model)
        elif self.path == "/v1/embeddings":
            self.embed(req, model, openai=True)
        elif self.path == "/api/embed":
            self.embed(req, model, openai=False)
        else:
            self.send(404, {"error": {"message": "no such endpoint"}})

    def reply_text(self, req):
        last = ""
        for m in req.get("messages", []):
            if m.get("role") == "user":
                last = m.get("content", "")
        if req.get("model") == "slow-stream":
            return "echo:" + " tick" * 39
        if req.get("model") == "chunky-stream":
            return "echo: " + last + " " + "x" * 40000
        return "echo: " + last

    def stream(self, req, model, openai):
        """the reply as events; pieces are words with their leading blanks"""
        text = self.reply_text(req)
        prompt = sum(words(m.get("content", "")) for m in req.get("messages", []))
        pieces = re.findall(r"\s*\S+", text)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream" if openai else "application/x-ndjson")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        chunky = model == "chunky-stream"
        sent = []

        def out(line):
            if not chunky:
                self.wfile.write(line.encode() + b"\n")
                self.wfile.flush()
            else:
                sent.append(line.encode() + b"\r\n")

        for i, piece in enumerate(pieces):
            if model == "broken-stream" and i == 2:
                out("<html><body>Bad Gateway</body></html>")
                return
            if model == "cut-stream" and i == 2:
                return
            if model == "midline-stream" and i == 2:
                self.wfile.write(b'data: {"choi' if openai else b'{"mess')
                self.wfile.flush()
                return
            if model == "stall-stream" and i == 1:
                time.sleep(3)
            if model == "ping-stream" and i == 1:
                for _ in range(60):
                    out(": ping" if openai else "")
                    time.sleep(0.05)
            if model == "error-stream" and i == 1:
                if openai:
                    out('data: {"error": {"message": "overloaded while streaming"}}')
                    out("")
                else:
                    out('{"error": "overloaded while streaming"}')
                return
            if model == "slow-stream" and i > 0:
                time.sleep(0.25)
            if openai:
                delta = {"content": piece} if i else {"role": "assistant", "content": piece}
                out("data: " + json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                                           "choices": [{"index": 0, "delta": delta,
                                                        "finish_reason": None}]}))
                out("")
            else:
                out(json.dumps({"model": model, "message": {"role": "assistant", "content": piece},
                                "done": False}))
        if openai:
            out(": keep-alive")
            if chunky:
                # one event over two data lines (joined by a line break)
                out('data: {"id": "chatcmpl-1", "choices": [')
                out('data: {"index": 0, "delta": {}, "finish_reason": "stop"}]}')
            else:
                out("data: " + json.dumps({"id": "chatcmpl-1", "choices": [
                    {"index": 0, "delta": {}, "finish_reason": "stop"}]}))
            out("")
            if (req.get("stream_options") or {}).get("include_usage"):
                out("data: " + json.dumps({"id": "chatcmpl-1", "choices": [], "usage": {
                    "prompt_tokens": prompt, "completion_tokens": len(pieces),
                    "total_tokens": prompt + len(pieces)}}))
                out("")
            out("data: [DONE]")
            out("")
        else:
            out(json.dumps({"model": model, "message": {"role": "assistant", "content": ""},
                            "done": True, "done_reason": "stop",
                            "prompt_eval_count": prompt, "eval_count": len(pieces)}))
        if chunky:
            # cut after every \r (its \n comes in the next write), two bytes
            # into every line, in the middle of every line and every 4000
            # bytes; the last line without its line break
            data = b"".join(sent)[:-2]
            cuts = set(range(4000, len(data), 4000))
            start = 0
            for i in range(len(data)):
                if data[i:i + 1] == b"\r":
                    cuts.add(i + 1)
                    cuts.update((start + 2, (start + i) // 2))
                    start = i + 2
            pos = 0
            for end in sorted(c for c in cuts if 0 < c < len(data)) + [len(data)]:
                if end > pos:
                    self.wfile.write(data[pos:end])
                    self.wfile.flush()
                    time.sleep(0.001)
                    pos = end

    def chat_openai(self, req, model):
        text = self.reply_text(req)
        prompt = sum(words(m.get("content", "")) for m in req.get("messages", []))
        self.send(200, {
            "id": "chatcmpl-1", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": words(text),
                      "total_tokens": prompt + words(text)}})

    def chat_ollama(self, req, model):
        text = self.reply_text(req)
        prompt = sum(words(m.get("content", "")) for m in req.get("messages", []))
        self.send(200, {
            "model": model, "created_at": "2024-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": text},
            "done": True, "done_reason": "stop",
            "prompt_eval_count": prompt, "eval_count": words(text)})

    def embed(self, req, model, openai):
        inputs = req.get("input", [])
        if isinstance(inputs, str):
            inputs = [inputs]
        vecs = [vector(s) for s in inputs]
        if model == "short-embed":
            vecs = vecs[:-1]
        tokens = sum(words(s) for s in inputs)
        if openai:
            # listed in reverse: clients must order by "index"
            data = [{"object": "embedding", "index": i, "embedding": v}
                    for i, v in enumerate(vecs)]
            data.reverse()
            self.send(200, {"object": "list", "data": data, "model": model,
                            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
        else:
            self.send(200, {"model": model, "embeddings": vecs,
                            "prompt_eval_count": tokens})


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    lifetime = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("port %d pid %d" % (server.server_address[1], os.getpid()), flush=True)
    timer = threading.Timer(lifetime, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
