import os

# Tests run with DEBUG off, as production does; a throwaway key keeps settings importable.
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
