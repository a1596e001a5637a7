# Production image: the same image runs web, worker and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so code changes do not reinstall them. pyproject.toml declares no
# packages: the apps run from /app, which also holds templates/ and static/.
COPY pyproject.toml ./
RUN pip install .

COPY . .

# Static files are collected at build time. These values exist only to import the settings
# during this step; the real ones come from the environment at run time.
RUN DEBUG=false \
    SECRET_KEY=build-time-only-not-a-secret \
    ENCRYPTION_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    ALLOWED_HOSTS=build.invalid \
    DATABASE_URL=postgres://build.invalid/missive \
    REDIS_URL=redis://build.invalid:6379/0 \
    python manage.py collectstatic --no-input -v 0

# Raw messages and attachments live under var/ (a volume in docker-compose.yml).
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin missive \
    && mkdir -p var/files \
    && chown -R missive:missive var
USER missive

EXPOSE 8000
CMD ["python", "-m", "missive.web", "missive.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
