"""`python -m clip_cpp ARGS` is the clip tool (`clip --help`), run in this process."""
import signal
import sys

from . import _clip_cpp


def main():
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C stops the tool as it stops `clip`
    return _clip_cpp.run_cli(["clip", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
