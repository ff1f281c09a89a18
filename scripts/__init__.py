"""Stage scripts: each file is one pipeline stage, runnable alone (`python scripts/<name>.py --help`)."""
