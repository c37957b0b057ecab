FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --no-input -v 0
# Where compose mounts the signing keys: writable by the unprivileged user that creates them.
RUN mkdir -p /var/lib/corsadmin/keys && chown nobody /var/lib/corsadmin/keys && chmod 700 /var/lib/corsadmin/keys
USER nobody
EXPOSE 8000
CMD ["gunicorn", "corsadmin.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
