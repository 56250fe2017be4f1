"""A finished command ends without Python's teardown, and loses nothing on the way: buffered output reaches the
pipe, the exit status is the command's."""
import subprocess
import sys

CHILD = """
import atexit, logging, sys
from newsbeam.process_exit import exit_now
atexit.register(lambda: print("teardown ran"))
logging.basicConfig(filename=sys.argv[1], level=logging.INFO)
logging.getLogger("x").info("logged before the end")
sys.stdout.write("a line without its newline")  # still in the buffer: stdout is a pipe
logging.shutdown()
exit_now(3)
"""


def test_exit_now_flushes_what_was_written_and_skips_the_teardown(tmp_path):
    log = tmp_path / "log.txt"
    done = subprocess.run([sys.executable, "-c", CHILD, str(log)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (3, "a line without its newline")  # no "teardown ran"
    assert "logged before the end" in log.read_text()


ENTRY = """
import atexit, sys
atexit.register(lambda: print("teardown ran"))
from newsbeam.pipelines.cli import entry
sys.argv = ["newsbeam", *sys.argv[1:]]
entry()
"""


def test_the_command_ends_with_its_own_exit_status_and_its_whole_output_and_no_teardown(tmp_path):
    # `inspect` of a folder that is not an output: exit 2 and a message
    done = subprocess.run([sys.executable, "-c", ENTRY, "inspect", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode, done.stdout) == (2, "") and done.stderr.startswith("newsbeam: error: ")
    version = subprocess.run([sys.executable, "-c", ENTRY, "--version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("newsbeam ") and "teardown" not in version.stdout
