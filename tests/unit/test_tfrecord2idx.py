# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tfrecord2idx on TFRecord files written by TensorFlow and by DLIO's generator."""
import os
import shutil
import stat
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, "roles", "python_env", "files", "tfrecord2idx")
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "dlio")

# tensorflow-written.tfrecord holds payloads of 0, 1, 300, 5000 and 17 bytes, in that order.
PAYLOADS = [0, 1, 300, 5000, 17]


def _expected(payloads):
    lines, offset = [], 0
    for length in payloads:
        lines.append("%d %d" % (offset, 16 + length))
        offset += 16 + length
    return lines


def _run(*args, **kwargs):
    return subprocess.run([sys.executable, TOOL] + list(args), capture_output=True, text=True, **kwargs)


def _read_lines(path):
    with open(path) as handle:
        return handle.read().splitlines()


def test_is_an_executable_python3_script():
    assert os.stat(TOOL).st_mode & stat.S_IXUSR
    with open(TOOL) as handle:
        assert handle.readline().strip() == "#!/usr/bin/env python3"


@pytest.mark.parametrize("verify", [False, True])
def test_tensorflow_written_file(tmp_path, verify):
    index = tmp_path / "t.idx"
    args = (["--verify"] if verify else []) + [os.path.join(FIXTURES, "tensorflow-written.tfrecord"), str(index)]
    result = _run(*args)
    assert result.returncode == 0, result.stderr
    assert _read_lines(index) == _expected(PAYLOADS)
    assert os.path.getsize(os.path.join(FIXTURES, "tensorflow-written.tfrecord")) == sum(16 + p for p in PAYLOADS)


def test_dlio_generated_file_invoked_as_dlio_does(tmp_path):
    # DLIO 2.0.0 runs call(["tfrecord2idx", <file>, <data_folder>/index/train/<file>.idx]) via PATH.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shutil.copy(TOOL, bindir / "tfrecord2idx")
    source = os.path.join(FIXTURES, "dlio-generated.tfrecord")
    index = tmp_path / "index" / "train"
    index.mkdir(parents=True)
    target = index / "img_0_of_4.tfrecord.idx"
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ.get("PATH", "")))
    assert subprocess.call(["tfrecord2idx", source, str(target)], env=env) == 0
    lines = _read_lines(target)
    assert len(lines) == 4  # the generator wrote 4 samples per file
    sizes = [int(l.split()[1]) for l in lines]
    offsets = [int(l.split()[0]) for l in lines]
    assert offsets == [0] + [sum(sizes[:i]) for i in range(1, 4)]
    assert sum(sizes) == os.path.getsize(source)
    assert _run("--verify", source, str(tmp_path / "v.idx")).returncode == 0


def test_index_gets_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        assert _run(os.path.join(FIXTURES, "tensorflow-written.tfrecord"), str(tmp_path / "t.idx")).returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "t.idx").st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["t.idx"]  # no temporary left behind


def test_empty_file_gives_empty_index(tmp_path):
    (tmp_path / "empty.tfrecord").write_bytes(b"")
    assert _run(str(tmp_path / "empty.tfrecord"), str(tmp_path / "e.idx")).returncode == 0
    assert (tmp_path / "e.idx").read_text() == ""


def test_truncated_file_fails_without_leaving_an_index(tmp_path):
    data = open(os.path.join(FIXTURES, "tensorflow-written.tfrecord"), "rb").read()
    broken = tmp_path / "cut.tfrecord"
    broken.write_bytes(data[:-10])  # cuts into the last (17-byte) payload
    result = _run(str(broken), str(tmp_path / "cut.idx"))
    assert result.returncode == 1
    assert "record 5 at offset %d: file ends inside a 17-byte payload" % sum(16 + p for p in PAYLOADS[:4]) in result.stderr
    assert not (tmp_path / "cut.idx").exists()
    header_cut = tmp_path / "head.tfrecord"
    header_cut.write_bytes(data[:16 + 5])  # first record plus 5 bytes of the next header
    result = _run(str(header_cut), str(tmp_path / "head.idx"))
    assert result.returncode == 1 and "record 2 at offset 16: file ends inside the 12-byte record header" in result.stderr


def test_verify_catches_corruption_that_the_fast_path_cannot(tmp_path):
    data = bytearray(open(os.path.join(FIXTURES, "tensorflow-written.tfrecord"), "rb").read())
    data[16 + 16 + 12 + 100] ^= 0xFF  # flip a byte in the 300-byte payload
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(bytes(data))
    assert _run(str(bad), str(tmp_path / "fast.idx")).returncode == 0
    result = _run("--verify", str(bad), str(tmp_path / "slow.idx"))
    assert result.returncode == 1 and "record 3 at offset 33: payload CRC mismatch" in result.stderr


def test_not_a_tfrecord_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("this is not a tfrecord file at all, just some words\n")
    result = _run("--verify", str(text), str(tmp_path / "n.idx"))
    assert result.returncode == 1 and "length CRC mismatch" in result.stderr
    # Without --verify the bogus length still runs past the end of the file.
    assert "file ends inside" in _run(str(text), str(tmp_path / "n.idx")).stderr


@pytest.mark.parametrize("args", [[], ["only-one"], ["a", "b", "c"], ["-x", "a"]])
def test_usage(args):
    result = _run(*args)
    assert result.returncode == 2 and result.stderr.startswith("usage: tfrecord2idx")


def test_missing_input(tmp_path):
    result = _run(str(tmp_path / "absent.tfrecord"), str(tmp_path / "a.idx"))
    assert result.returncode == 1 and "No such file" in result.stderr and "Traceback" not in result.stderr
