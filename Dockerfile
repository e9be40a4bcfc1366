# The one image behind web, worker and beat (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 REVOPS_ENV=production \
    DJANGO_SETTINGS_MODULE=config.settings
WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
RUN pip install -c constraints.txt . && useradd --create-home --uid 1000 revops

COPY . .
# Static files are collected at build time; whitenoise serves them from the image.
RUN SECRET_KEY=build-only-not-secret-build-only-not-secret-build-only-x \
    DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 ALLOWED_HOSTS=build SITE_URL=https://build \
    python manage.py collectstatic --noinput \
 && mkdir -p /app/var && chown revops /app/var

USER revops
EXPOSE 8000
# The access log (on, to stdout) and its format, which leaves out query strings, are in the config file.
CMD ["gunicorn", "--config", "config/gunicorn.conf.py", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
