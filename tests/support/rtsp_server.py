"""A real RTSP camera on 127.0.0.1 for the tests: GStreamer's RTSP server serving a video as H.264 or H.265.

Two halves in one file. Run as a script with Debian's `/usr/bin/python3` (which has PyGObject and
the GStreamer bindings; the project's venv has not), it either prepares a video once (`prepare`: the
clip decoded and encoded `--repeat` times over as H.264 or H.265 in Matroska) or serves prepared
files (`serve`) at rtsp://127.0.0.1:<port>/<codec>, optionally behind Basic authentication. Every
client gets its own pipeline (an unshared factory), so each connection plays the file from its start,
and the server prints one `SETUP <mount> <transport>` line per stream set up, so a test can see which
transport a client asked for. Imported from the tests (`RtspCamera`), it runs that script as a child
process: killing it is a camera that reboots, SIGSTOP a camera that stalls.
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-gi and gir1.2-gst-rtsp-server-1.0
ENCODERS = {
    "h264": "x264enc speed-preset=ultrafast tune=zerolatency key-int-max=30 ! h264parse",
    "h265": "x265enc speed-preset=ultrafast tune=zerolatency key-int-max=30 ! h265parse",
}
PAYLOADERS = {"h264": "h264parse ! rtph264pay name=pay0 pt=96", "h265": "h265parse ! rtph265pay name=pay0 pt=96"}
READY = "READY"


# --- the script half (system Python, GStreamer) ----------------------------------------------------------
def _prepare(source: Path, target: Path, codec: str, repeat: int, timeout: float) -> None:
    """Decode `source` `repeat` times over and encode it once as `codec` in Matroska at `target`, within
    `timeout` seconds."""
    import gi

    gi.require_version("Gst", "1.0")
    from gi.repository import Gst

    Gst.init(None)
    branches = " ".join(f"filesrc location={source} ! decodebin ! videoconvert ! c." for _ in range(repeat))
    pipeline = Gst.parse_launch(
        f"concat name=c ! videoconvert ! video/x-raw,format=I420 ! {ENCODERS[codec]} ! "
        f"matroskamux ! filesink location={target} {branches}"
    )
    pipeline.set_state(Gst.State.PLAYING)
    message = pipeline.get_bus().timed_pop_filtered(
        int(timeout * Gst.SECOND), Gst.MessageType.EOS | Gst.MessageType.ERROR
    )
    pipeline.set_state(Gst.State.NULL)
    if message is None or message.type != Gst.MessageType.EOS:
        detail = message.parse_error()[1] if message is not None else "timed out"
        raise SystemExit(f"prepare {codec} failed: {detail}")


def _serve(port: int, files: dict[str, Path], user: str | None, password: str | None) -> None:
    """Serve each file at /<codec> on 127.0.0.1:port until killed; print READY once listening."""
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    if user is not None:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password or ""), token)
        server.set_auth(auth)
    for codec, path in files.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(f"( filesrc location={path} ! matroskademux ! {PAYLOADERS[codec]} )")
        factory.set_shared(False)
        if user is not None:
            factory.add_role_from_structure(
                Gst.Structure.from_string(
                    "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
                )[0]
            )
        server.get_mount_points().add_factory(f"/{codec}", factory)

    def on_setup(_client: object, context: GstRtspServer.RTSPContext) -> None:
        _, transport = context.request.get_header(GstRtsp.RTSPHeaderField.TRANSPORT, 0)
        print(f"SETUP {context.uri.abspath} {transport}", flush=True)

    server.connect("client-connected", lambda _server, client: client.connect("setup-request", on_setup))
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on 127.0.0.1:{port}")
    print(READY, flush=True)
    GLib.MainLoop().run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare")
    prepare.add_argument("source", type=Path)
    prepare.add_argument("target", type=Path)
    prepare.add_argument("--codec", choices=sorted(ENCODERS), required=True)
    prepare.add_argument("--repeat", type=int, default=1)
    prepare.add_argument("--timeout", type=float, default=600.0, help="seconds")
    serve = commands.add_parser("serve")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--file", action="append", default=[], metavar="CODEC=PATH")
    serve.add_argument("--user")
    serve.add_argument("--password")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        _prepare(args.source, args.target, args.codec, args.repeat, args.timeout)
    else:
        files = {codec: Path(path) for codec, path in (item.split("=", 1) for item in args.file)}
        _serve(args.port, files, args.user, args.password)


# --- the test half (the project's Python) ------------------------------------------------------------------
def prepare(source: Path, folder: Path, codec: str, repeat: int = 6, timeout: float = 900.0) -> Path:
    """`source` as a `codec` file in `folder` (played `repeat` times over), made with GStreamer; returns its path.

    `timeout` only guards against a hang: encoding H.265 on two cores that other work keeps busy takes
    minutes (over 300 s under `stress-ng --cpu 2` beside the rest of the suite)."""
    target = folder / f"{source.stem}.{codec}.mkv"
    command = [SYSTEM_PYTHON, __file__, "prepare", str(source), str(target), "--codec", codec, "--repeat", str(repeat)]
    done = subprocess.run([*command, "--timeout", str(timeout)], capture_output=True, text=True, timeout=timeout + 30.0)
    if done.returncode != 0 or not target.is_file():
        raise RuntimeError(f"preparing {codec} failed: {done.stderr[-2000:]}")
    return target


class RtspCamera:
    """The script serving prepared files on 127.0.0.1:`port`: `start`, `stop` (kill: a reboot), `pause`/`resume`.

    `url(codec)` is the stream's address (with the credentials when given); `setups` the transports
    clients asked for, as the server printed them.
    """

    def __init__(self, files: dict[str, Path], port: int, user: str | None = None, password: str | None = None) -> None:
        self.files, self.port, self.user, self.password = files, port, user, password
        self.setups: list[str] = []
        self.proc: subprocess.Popen | None = None

    def url(self, codec: str, user: str | None = None, password: str | None = None) -> str:
        user, password = user or self.user, password or self.password
        login = f"{user}:{password}@" if user is not None else ""
        return f"rtsp://{login}127.0.0.1:{self.port}/{codec}"

    def start(self, timeout: float = 30.0) -> RtspCamera:
        command = [SYSTEM_PYTHON, __file__, "serve", "--port", str(self.port)]
        command += [f"--file={codec}={path}" for codec, path in self.files.items()]
        if self.user is not None:
            command += ["--user", self.user, "--password", self.password or ""]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "GST_DEBUG": "0"}
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, lines), daemon=True).start()
        try:
            first = lines.get(timeout=timeout)
        except queue.Empty:
            first = ""
        if first.strip() != READY:
            self.stop()
            raise RuntimeError(f"the RTSP server did not start on port {self.port}: {first!r}")
        return self

    def _read(self, proc: subprocess.Popen, lines: queue.Queue[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("SETUP "):
                self.setups.append(line.split(" ", 2)[2].strip())
            else:
                lines.put(line)

    def stop(self) -> None:
        """Kill the server at once (SIGKILL, paused or not): the camera loses power."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def pause(self) -> None:
        """SIGSTOP: the connection stays open and nothing more comes (a camera that hangs)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


if __name__ == "__main__":
    main(sys.argv[1:])
