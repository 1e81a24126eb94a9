"""Model files from core objects and plain data: writing, reading untrusted files, atomic writes, JSON export."""
