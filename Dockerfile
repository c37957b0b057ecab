# The central server: gunicorn (web), or the same image as Celery worker / beat (see
# docker-compose.yml). Settings come from the environment (README.md, "Configuration").
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CORSADMIN_BIND=0.0.0.0:8000 WEB_CONCURRENCY=3
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# A throwaway key, only for collectstatic at build time (the running container reads its own).
RUN SECRET_KEY=build-only python manage.py collectstatic --no-input -v 0
# Where compose mounts the signing keys: writable by the unprivileged user that creates them.
RUN mkdir -p /var/lib/corsadmin/keys && chown nobody /var/lib/corsadmin/keys && chmod 700 /var/lib/corsadmin/keys
USER nobody
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["gunicorn", "-c", "python:corsadmin.gunicorn_conf", "corsadmin.wsgi:application"]
