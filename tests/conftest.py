"""Test-wide set-up. Its presence puts tests/ on sys.path, so `shared_files` (real-data helpers) imports everywhere."""
