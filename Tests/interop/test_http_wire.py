"""HTTP/1.1 on the wire, as a peer we did not write speaks it: Python's ssl and sockets over
mutual TLS against a real Nexus (`spike dev up`). The Nexus reads bodies and answers requests
itself (ADR-0022), so these pin what NIO's server handlers did for it before: pipelined requests
answered in order (a read behind a durable write sees the write), HTTP/1.0 and `Connection:
close`, bodies over the limit refused 413 before they are read, chunked bodies, an unparseable
request answered 400, HEAD answered without a body. The Nexus frames requests with a parser of
its own (ADR-0026): the request smuggling attacks below are sent as an attacker sends them, and
each must be refused with its status, the connection closed, and the request hidden behind it
never run."""
import json
import secrets
import socket
import ssl
import time

import pytest

from dev_cluster import dev_cluster, issue

SUPERUSER = "spiffe://spike.ist/spike/pilot/role/superuser"
MAX_BODY = 1 << 20  # HTTPServerLimits.maxBodySize, the Nexus' default


@pytest.fixture(scope="module")
def nexus(tmp_path_factory):
    root = tmp_path_factory.mktemp("wire")
    with dev_cluster(root) as (directory, url):
        host, port = url.removeprefix("https://").rstrip("/").rsplit(":", 1)
        certificate, key = issue(directory, SUPERUSER, root / "superuser")
        context = ssl.create_default_context(cafile=str(directory / "ca" / "bundle.pem"))
        context.check_hostname = False  # an X.509-SVID names a SPIFFE ID, not a host
        context.load_cert_chain(certificate, key)
        yield lambda: context.wrap_socket(socket.create_connection((host, int(port)), timeout=30))


def request(method, path, body=b"", headers=(), version="HTTP/1.1"):
    lines = [f"{method} {path} {version}", "Host: nexus"]
    if body and not any(h.lower().startswith("transfer-encoding") for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    lines += list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Reader:
    """Responses read one by one off a socket (Content-Length framing: the Nexus always sends it)."""

    def __init__(self, sock):
        self.sock, self.buffer = sock, b""

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("closed")
        self.buffer += chunk

    def response(self, head_only=False):
        while b"\r\n\r\n" not in self.buffer:
            self.fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode().split("\r\n")
        headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in header_lines)}
        length = 0 if head_only else int(headers["content-length"])
        while len(self.buffer) < length:
            self.fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status_line, headers, body

    def closed(self):
        """True when the peer closed the connection (nothing more to read)."""
        try:
            return self.sock.recv(1) == b""
        except (ssl.SSLError, ConnectionResetError):
            return True


def test_pipelined_requests_are_answered_in_order(nexus):
    path = f"wire/pipelined/{secrets.token_hex(4)}"
    with nexus() as sock:
        # One write: a durable put (answered when its batch commits), a read of it, a read of a
        # path that does not exist. The read waits behind the write, so it sees it.
        sock.sendall(request("POST", "/v1/store/secrets", f'{{"path":"{path}","values":{{"k":"v1"}}}}'.encode())
                     + request("POST", "/v1/store/secrets?action=get", f'{{"path":"{path}"}}'.encode())
                     + request("POST", "/v1/store/secrets?action=get", b'{"path":"wire/none"}'))
        reader = Reader(sock)
        answers = [reader.response() for _ in range(3)]
    assert [status for status, _, _ in answers] == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"]
    assert answers[1][2] == b'{"data":{"k":"v1"}}'
    assert json.loads(answers[2][2])["err"] == "api_not_found"


def test_keep_alive_serves_many_requests_on_one_connection(nexus):
    with nexus() as sock:
        reader = Reader(sock)
        for _ in range(20):
            sock.sendall(request("GET", "/healthz"))
            status, headers, body = reader.response()
            assert status == "HTTP/1.1 200 OK" and "connection" not in headers and body == b'{"status":"ok"}'


def test_http_1_0_and_connection_close_are_answered_then_closed(nexus):
    for version, headers in (("HTTP/1.0", ()), ("HTTP/1.1", ("Connection: close",))):
        with nexus() as sock:
            sock.sendall(request("GET", "/healthz", headers=headers, version=version))
            reader = Reader(sock)
            status, response_headers, body = reader.response()
            assert status == f"{version} 200 OK" and body == b'{"status":"ok"}'
            assert response_headers["connection"] == "close"
            assert reader.closed()


def test_a_body_declared_over_the_limit_is_refused_before_it_is_sent(nexus):
    with nexus() as sock:
        # Only the head: the answer must not wait for a body it refuses.
        sock.sendall(request("POST", "/v1/store/secrets", headers=(f"Content-Length: {MAX_BODY + 1}",)))
        reader = Reader(sock)
        status, headers, body = reader.response()
        assert status == "HTTP/1.1 413 Payload Too Large" and headers["connection"] == "close" and body == b""
        assert reader.closed()


def test_a_refusal_behind_a_write_is_answered_in_its_turn(nexus):
    path = f"wire/turn/{secrets.token_hex(4)}"
    with nexus() as sock:
        # The put is answered once durable; the request behind it is refused at its head, but
        # its 413 must not overtake the put's answer.
        sock.sendall(request("POST", "/v1/store/secrets", f'{{"path":"{path}","values":{{"k":"v"}}}}'.encode())
                     + request("POST", "/v1/store/secrets", headers=(f"Content-Length: {MAX_BODY + 1}",)))
        reader = Reader(sock)
        assert reader.response() == ("HTTP/1.1 200 OK", json_headers(2), b"{}")
        status, headers, _ = reader.response()
        assert status == "HTTP/1.1 413 Payload Too Large" and headers["connection"] == "close"
        assert reader.closed()


def test_a_chunked_body_is_read_whole_and_refused_past_the_limit(nexus):
    path = f"wire/chunked/{secrets.token_hex(4)}"
    payload = f'{{"path":"{path}","values":{{"k":"chunked"}}}}'.encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (payload[:10], payload[10:])) + b"0\r\n\r\n"
    with nexus() as sock:
        sock.sendall(request("POST", "/v1/store/secrets", chunks, headers=("Transfer-Encoding: chunked",)))
        reader = Reader(sock)
        assert reader.response()[0] == "HTTP/1.1 200 OK"
        sock.sendall(request("POST", "/v1/store/secrets?action=get", f'{{"path":"{path}"}}'.encode()))
        assert reader.response()[2] == b'{"data":{"k":"chunked"}}'
    with nexus() as sock:
        sock.sendall(request("POST", "/v1/store/secrets", b"", headers=("Transfer-Encoding: chunked",)))
        piece = b"x" * 65536
        try:
            for _ in range(MAX_BODY // len(piece) + 2):
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # closed by the Nexus while sending: its answer was sent first
        reader = Reader(sock)
        status, headers, _ = reader.response()
        assert status == "HTTP/1.1 413 Payload Too Large" and headers["connection"] == "close"
        assert reader.closed()


def test_a_body_that_arrives_in_pieces_is_read_whole(nexus):
    path = f"wire/slow/{secrets.token_hex(4)}"
    message = request("POST", "/v1/store/secrets", f'{{"path":"{path}","values":{{"k":"slow"}}}}'.encode())
    with nexus() as sock:
        for index in range(0, len(message), 7):
            sock.sendall(message[index:index + 7])
            time.sleep(0.005)
        assert Reader(sock).response()[0] == "HTTP/1.1 200 OK"


def test_an_unparseable_request_is_answered_400_then_closed(nexus):
    with nexus() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: nexus\r\nContent-Length: twelve\r\n\r\n")
        reader = Reader(sock)
        status, headers, body = reader.response()
        assert status == "HTTP/1.1 400 Bad Request" and headers["connection"] == "close" and body == b""
        assert reader.closed()


def test_head_is_answered_without_a_body(nexus):
    with nexus() as sock:
        # HEAD is not routed (400, as SPIKE answers any method it does not route), and its answer
        # carries no body: the next answer on the connection starts right after its head.
        sock.sendall(request("HEAD", "/healthz") + request("GET", "/healthz"))
        reader = Reader(sock)
        status, headers, _ = reader.response(head_only=True)
        assert status == "HTTP/1.1 400 Bad Request" and int(headers["content-length"]) > 0
        assert reader.response() == ("HTTP/1.1 200 OK", json_headers(15), b'{"status":"ok"}')


def secret_exists(nexus, path):
    with nexus() as sock:
        sock.sendall(request("POST", "/v1/store/secrets?action=get", f'{{"path":"{path}"}}'.encode()))
        status = Reader(sock).response()[0]
    assert status in ("HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found")
    return status == "HTTP/1.1 200 OK"


def smuggled_write(path):
    """A whole request that writes `path`: what an attacker hides in the body of another."""
    return request("POST", "/v1/store/secrets", f'{{"path":"{path}","values":{{"k":"smuggled"}}}}'.encode())


def front_and_hidden(path):
    """Requests framed two ways: a front-end that reads one framing forwards the hidden write as
    the body of the first; a back-end that reads the other would run it. Each must be refused."""
    hidden = smuggled_write(path)
    head = "POST /v1/store/secrets?action=get HTTP/1.1\r\nHost: nexus\r\n"
    return {
        # CL.TE: the front-end honours Content-Length, the back-end Transfer-Encoding.
        "CL.TE": (head + f"Content-Length: {len(hidden) + 5}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
                 + b"0\r\n\r\n" + hidden,
        # TE.CL: the other way round.
        "TE.CL": (head + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n").encode()
                 + b"%x\r\n%s\r\n0\r\n\r\n" % (len(hidden), hidden),
        # Two lengths: whichever one a peer picks, the other frames the hidden write.
        "CL.CL": (head + f"Content-Length: 0\r\nContent-Length: {len(hidden)}\r\n\r\n").encode() + hidden,
        # Transfer-Encoding hidden from a lenient reader: folded onto a second line, a space
        # before its colon, a coding that is not chunked.
        "TE folded": (head + "Content-Length: 0\r\nTransfer-Encoding:\r\n chunked\r\n\r\n").encode() + hidden,
        "TE space": (head + "Content-Length: 0\r\nTransfer-Encoding : chunked\r\n\r\n").encode() + hidden,
        "TE xchunked": (head + "Transfer-Encoding: xchunked\r\n\r\n").encode() + hidden,
        # Line feeds alone: a reader that takes them as line ends sees a second request.
        "bare LF": b"GET /healthz HTTP/1.1\nHost: nexus\nContent-Length: %d\n\n" % len(hidden) + hidden,
        # A NUL inside a header value ends it for a C-string reader.
        "NUL": (head + "X-Note: a\0\r\nContent-Length: 0\r\n\r\n").encode() + hidden,
    }


@pytest.mark.parametrize("attack", ["CL.TE", "TE.CL", "CL.CL", "TE folded", "TE space", "TE xchunked", "bare LF", "NUL"])
def test_a_request_framed_two_ways_is_refused_and_what_it_hides_never_runs(nexus, attack):
    path = f"wire/smuggled/{secrets.token_hex(4)}"
    with nexus() as sock:
        sock.sendall(front_and_hidden(path)[attack])
        reader = Reader(sock)
        status, headers, body = reader.response()
        assert status == "HTTP/1.1 400 Bad Request" and headers["connection"] == "close" and body == b""
        assert reader.closed()
    assert not secret_exists(nexus, path)


@pytest.mark.parametrize("head, status", [
    ("GET /healthz HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"),  # no Host
    ("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "HTTP/1.1 400 Bad Request"),
    ("GET /healthz HTTP/2.0\r\nHost: nexus\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported"),
    ("POST /v1/store/secrets HTTP/1.1\r\nHost: nexus\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "HTTP/1.1 501 Not Implemented"),
    ("GET /" + "a" * 17000 + " HTTP/1.1\r\nHost: nexus\r\n\r\n", "HTTP/1.1 414 URI Too Long"),
    ("GET /healthz HTTP/1.1\r\nHost: nexus\r\nX-Big: " + "a" * 17000 + "\r\n\r\n", "HTTP/1.1 431 Request Header Fields Too Large"),
    ("GET /healthz HTTP/1.1\r\nHost: nexus\r\n" + "X-Many: a\r\n" * 100 + "\r\n", "HTTP/1.1 431 Request Header Fields Too Large"),
], ids=["no Host", "two Hosts", "HTTP/2.0", "gzip then chunked", "long target", "long header", "101 headers"])
def test_a_head_past_the_rules_or_the_limits_is_refused_with_its_status(nexus, head, status):
    with nexus() as sock:
        try:
            sock.sendall(head.encode())
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # a head past its limit is refused before the rest of it is read
        reader = Reader(sock)
        answer, headers, body = reader.response()
        assert answer == status and headers["connection"] == "close" and body == b""
        assert reader.closed()


def json_headers(length):
    """The headers of a JSON answer of `length` bytes (SPIKE's no-cache headers, reference §2.1)."""
    return {"content-type": "application/json", "cache-control": "no-store, no-cache, must-revalidate, private",
            "pragma": "no-cache", "expires": "0", "content-length": str(length)}
